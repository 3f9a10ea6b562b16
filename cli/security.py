"""The security commands: ``credentials`` (issue, revoke and list identities), ``acls``
(shaped like Kafka's ``kafka-acls.sh``) and ``kafka-users`` (SASL users of the Kafka
listeners, added to the node file).

Owns: turning their arguments into ``Admin`` calls and printing the outcome.  ``--cluster``
defaults to the admin identity's file (``./data/admin.json``).  Kafka's ``--cluster``
resource flag is ``--cluster-resource`` here (``--cluster`` names the file, as in every
command).

Must never: be imported by a layer below ``cli``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from zafka.cli.common import CLI_TIMEOUT_MS, CommandError, format_table, print_json, sub_command
from zafka.client import Admin
from zafka.core.acl import CLUSTER_NAME, ISSUED_ROLES
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
)
from zafka.transport.cluster_file import NODE_FILE_NAME

from zafka.launcher import ClusterError, add_kafka_user_to_file, remove_kafka_user_from_file

OPERATIONS = {op.value.lower(): op for op in AclOperation}


def run_credentials(args: argparse.Namespace) -> int:
    with Admin(args.cluster, request_timeout_ms=CLI_TIMEOUT_MS) as admin:
        if args.add:
            path = admin.create_credentials(args.add, args.role, args.output)
            print(f"Issued {args.role} identity User:{args.add}; its client file is {path} "
                  "(mode 0600: hand it over privately).")
        elif args.revoke:
            admin.revoke_credentials(args.revoke)
            print(f"Revoked User:{args.revoke}: every node refuses its key from now on.")
        else:
            rows = [{"principal": f"User:{i.name}", "role": i.role, "public_key": i.public_key}
                    for i in admin.describe_credentials()]
            if args.json:
                print_json(rows)
            else:
                print(format_table(rows, ["principal", "role", "public_key"]))
    return 0


def run_kafka_users(args: argparse.Namespace) -> int:
    try:
        if args.remove:
            remove_kafka_user_from_file(Path(args.cluster), args.remove)
            print(f"Removed Kafka user User:{args.remove}. Brokers read their users when they "
                  "start: restart them to shut it out.")
            return 0
        settings = add_kafka_user_to_file(Path(args.cluster), args.add, args.role == "admin")
    except ClusterError as error:
        raise CommandError(str(error)) from None
    rights = "bypasses ACLs" if args.role == "admin" else "meets the cluster's ACLs"
    print(f"Added Kafka user User:{args.add} ({args.role}: {rights}). Brokers read their "
          "users when they start: restart them to admit it.\n"
          f"Kafka client settings: {json.dumps(settings)}")
    return 0


def bindings_of(args: argparse.Namespace) -> list[AclBinding]:
    """The ACL bindings the ``acls`` arguments describe (one per principal, operation and
    resource)."""
    resources = ([(ResourceType.TOPIC, t) for t in args.topic]
                 + [(ResourceType.GROUP, g) for g in args.group]
                 + ([(ResourceType.CLUSTER, CLUSTER_NAME)] if args.cluster_resource else []))
    if not resources:
        raise CommandError("name a resource: --topic, --group or --cluster-resource")
    principals = ([(p, AclPermission.ALLOW) for p in args.allow_principal]
                  + [(p, AclPermission.DENY) for p in args.deny_principal])
    if not principals:
        raise CommandError("name a principal: --allow-principal or --deny-principal User:NAME")
    if not args.operation:
        raise CommandError("name an operation: --operation Read|Write|Create|Delete|Alter|"
                           "Describe|AlterConfigs|DescribeConfigs|ClusterAction|All")
    pattern = PatternType(args.resource_pattern_type.capitalize())
    out = []
    for principal, permission in principals:
        hosts = (args.allow_host if permission is AclPermission.ALLOW else args.deny_host) or ["*"]
        for operation in args.operation:
            for kind, name in resources:
                for host in hosts:
                    out.append(AclBinding(principal=principal, operation=operation,
                                          resource_type=kind, resource_name=name,
                                          pattern_type=pattern, permission=permission,
                                          host=host))
    return out


def run_acls(args: argparse.Namespace) -> int:
    with Admin(args.cluster, request_timeout_ms=CLI_TIMEOUT_MS) as admin:
        if args.add:
            bindings = bindings_of(args)
            admin.create_acls(bindings)
            print(f"Added {len(bindings)} ACL(s).")
        elif args.remove:
            bindings = bindings_of(args)
            admin.delete_acls(bindings)
            print(f"Removed {len(bindings)} ACL(s).")
        else:
            rows = [acl_row(b) for b in admin.describe_acls()]
            if args.json:
                print_json(rows)
            else:
                print(format_table(rows, ["principal", "permission", "operation", "resource",
                                          "name", "pattern", "host"]))
    return 0


def acl_row(binding: AclBinding) -> dict[str, Any]:
    return {"principal": binding.principal, "permission": binding.permission.value,
            "operation": binding.operation.value, "resource": binding.resource_type.value,
            "name": binding.resource_name, "pattern": binding.pattern_type.value,
            "host": binding.host}


def operation_value(text: str) -> AclOperation:
    try:
        return OPERATIONS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"unknown operation {text!r}; one of {', '.join(o.value for o in AclOperation)}"
        ) from None


def register(commands: Any) -> None:
    """Add the ``credentials`` and ``acls`` sub-commands."""
    creds = sub_command(
        commands, "credentials", "Issue, revoke or list the identities of a running cluster.",
        ["credentials --add alice", "credentials --add ops --role admin --output ops.json",
         "credentials --revoke alice", "credentials --list"], run_credentials)
    action = creds.add_mutually_exclusive_group(required=True)
    action.add_argument("--add", metavar="NAME", help="issue identity NAME (User:NAME)")
    action.add_argument("--revoke", metavar="NAME", help="revoke identity NAME")
    action.add_argument("--list", action="store_true", help="list every identity")
    creds.add_argument("--role", choices=ISSUED_ROLES, default="client")
    creds.add_argument("--output", default=None, metavar="FILE",
                       help="where to write the new client file (default NAME.json beside "
                            "the admin file)")
    creds.add_argument("--json", action="store_true", help="print the list as JSON")
    users = sub_command(
        commands, "kafka-users",
        "Add or remove a SASL user for Kafka clients in the node file (a new user's password "
        "is printed once; brokers read their users when they start).",
        ["kafka-users --add billing", "kafka-users --add ops --role admin",
         "kafka-users --remove billing"],
        run_kafka_users, default_file=f"data/{NODE_FILE_NAME}")
    user_action = users.add_mutually_exclusive_group(required=True)
    user_action.add_argument("--add", metavar="NAME", help="add user NAME (User:NAME)")
    user_action.add_argument("--remove", metavar="NAME", help="remove user NAME")
    users.add_argument("--role", choices=ISSUED_ROLES, default="client",
                       help="admin: bypasses ACLs; client (default): meets them")
    acls = sub_command(
        commands, "acls", "Add, remove or list ACLs (like kafka-acls.sh).",
        ["acls --add --allow-principal User:alice --operation Write --topic orders",
         "acls --add --allow-principal User:alice --operation Read --topic orders- "
         "--resource-pattern-type prefixed",
         "acls --add --deny-principal User:bob --operation Read --group billing",
         "acls --remove --allow-principal User:alice --operation Write --topic orders",
         "acls --list"], run_acls)
    action = acls.add_mutually_exclusive_group(required=True)
    action.add_argument("--add", action="store_true")
    action.add_argument("--remove", action="store_true")
    action.add_argument("--list", action="store_true")
    acls.add_argument("--allow-principal", action="append", default=[], metavar="User:NAME")
    acls.add_argument("--deny-principal", action="append", default=[], metavar="User:NAME")
    acls.add_argument("--allow-host", action="append", default=[], metavar="HOST")
    acls.add_argument("--deny-host", action="append", default=[], metavar="HOST")
    acls.add_argument("--operation", action="append", default=[], type=operation_value)
    acls.add_argument("--topic", action="append", default=[])
    acls.add_argument("--group", action="append", default=[])
    acls.add_argument("--cluster-resource", action="store_true",
                      help="the cluster itself (Kafka's --cluster)")
    acls.add_argument("--resource-pattern-type", choices=["literal", "prefixed"],
                      default="literal")
    acls.add_argument("--json", action="store_true", help="print the list as JSON")


__all__ = ["bindings_of", "register"]
