"""The Kafka wire protocol at a broker's edge."""
