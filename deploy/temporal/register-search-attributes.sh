#!/bin/sh
# One-shot job for the temporal-admin-tools service: waits for the Temporal frontend and the namespace,
# then registers the custom search attributes the order workflow upserts and the API queries.
#
# Usage: register-search-attributes.sh NAME=TYPE [NAME=TYPE ...]
#   env TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE (default: default)
#
# Safe to rerun (every `docker compose up` does): an attribute that already exists with that name is
# left alone. Exits non-zero on any other error, so the services that depend on this job do not start
# against a namespace missing its search attributes.
set -eu

address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
namespace="${TEMPORAL_NAMESPACE:-default}"
[ "$#" -gt 0 ] || { echo "usage: $0 NAME=TYPE ..." >&2; exit 2; }

echo "Waiting for the Temporal frontend at ${address}..."
until temporal operator cluster health --address "$address" 2>/dev/null | grep -q SERVING; do
  sleep 2
done

# auto-setup creates the default namespace just after the server starts; listing search attributes
# only succeeds once the namespace exists.
echo "Waiting for namespace ${namespace}..."
until temporal operator search-attribute list --address "$address" --namespace "$namespace" >/dev/null 2>&1; do
  sleep 2
done

for pair in "$@"; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if output=$(temporal operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$name" --type "$type" 2>&1); then
    echo "Registered search attribute ${name} (${type})."
  elif echo "$output" | grep -qi 'already exists'; then
    echo "Search attribute ${name} already exists."
  else
    echo "$output" >&2
    exit 1
  fi
done

# "Already exists" says nothing about the type; a mismatch would break upserts, so check the listing.
listing=$(temporal operator search-attribute list --address "$address" --namespace "$namespace")
for pair in "$@"; do
  name="${pair%%=*}"
  type="${pair#*=}"
  line=$(echo "$listing" | grep -w -- "$name" || true)
  if [ -z "$line" ]; then
    echo "Warning: ${name} is not in the search attribute listing; could not check its type." >&2
  elif ! echo "$line" | grep -qw -- "$type"; then
    echo "Search attribute ${name} exists with another type than ${type}: ${line}" >&2
    exit 1
  fi
done
echo "Search attributes ready in namespace ${namespace}."
