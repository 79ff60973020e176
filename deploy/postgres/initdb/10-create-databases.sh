#!/bin/bash
# Runs once, when the postgres image initialises an empty data volume (docker-entrypoint-initdb.d).
# To rerun it after changing it, remove the volume: `docker compose down -v`.
#
# One PostgreSQL server, four databases, two owners:
#   temporal, temporal_visibility  owned by role `temporal`  - Temporal's persistence and visibility
#                                                              (temporalio/auto-setup creates the schema)
#   harvest                        owned by role `harvest`   - our domain (dist/db/migrate-cli.js)
#   sandbox                        owned by role `harvest`   - the provider sandbox's own records
# Separate roles keep Temporal and the application from touching each other's data. The databases are
# created here (and auto-setup runs with SKIP_DB_CREATE=true) so both owners are set explicitly.
# Passwords come from the container environment (docker-compose.yml), never from this file.
set -euo pipefail

: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD on the postgresql service}"
: "${HARVEST_DB_PASSWORD:?set HARVEST_DB_PASSWORD on the postgresql service}"

# psql variables (:'name') quote the passwords safely; the quoted heredoc keeps bash from expanding them.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v harvest_password="$HARVEST_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE ROLE harvest LOGIN PASSWORD :'harvest_password';

CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE harvest OWNER harvest;
CREATE DATABASE sandbox OWNER harvest;

-- New databases grant CONNECT to PUBLIC; keep each role to its own databases.
REVOKE CONNECT ON DATABASE temporal, temporal_visibility, harvest, sandbox FROM PUBLIC;
GRANT CONNECT ON DATABASE temporal, temporal_visibility TO temporal;
GRANT CONNECT ON DATABASE harvest, sandbox TO harvest;
SQL
