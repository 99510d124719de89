#!/usr/bin/env bash
# Makes sure a PostGIS-enabled PostgreSQL answers on 127.0.0.1:5432 and that the role and the
# template database used by the test suite exist. Prints the URL of the template database.
set -euo pipefail
HOST=127.0.0.1
PORT=${GRIDCALL_PG_PORT:-5432}
ROLE=gridcall
TEMPLATE=gridcall_template

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    cluster_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$cluster_version" ]; then
        echo "no PostgreSQL cluster found; install postgresql-15 first" >&2
        exit 1
    fi
    echo "starting PostgreSQL $cluster_version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h "$HOST" -p "$PORT" && break; sleep 1; done
    pg_isready -q -h "$HOST" -p "$PORT" || { echo "PostgreSQL did not start" >&2; exit 1; }
fi

psql_su() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }
# The test role is a superuser of a throw-away local cluster: tests create and drop databases.
if [ "$(psql_su -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    psql_su -c "CREATE ROLE $ROLE LOGIN SUPERUSER PASSWORD '$ROLE'"
fi
if [ "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = '$TEMPLATE'")" != "1" ]; then
    psql_su -c "CREATE DATABASE $TEMPLATE OWNER $ROLE"
fi
psql_su -d "$TEMPLATE" -c "CREATE EXTENSION IF NOT EXISTS postgis"
echo "postgresql+psycopg://$ROLE:$ROLE@$HOST:$PORT/$TEMPLATE"
