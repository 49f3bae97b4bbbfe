#!/usr/bin/env bash
# Makes sure the local services the tests need are running on 127.0.0.1, starting them when not.
# Exits non-zero (loudly) when one cannot be started: tests never skip for a missing service.
set -uo pipefail

wait_for() { # name, check command, tries
  local name=$1 check=$2 tries=${3:-30}
  for _ in $(seq 1 "$tries"); do
    if eval "$check" >/dev/null 2>&1; then echo "$name: up"; return 0; fi
    sleep 1
  done
  echo "!! $name did not come up" >&2
  return 1
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  echo "PostgreSQL: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
wait_for PostgreSQL pg_up 60 || exit 1

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }
if ! redis_up; then
  echo "Redis: starting"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_for Redis redis_up 30 || exit 1

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if ! nats_up; then
  echo "NATS: starting (JetStream)"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
wait_for NATS nats_up 30 || exit 1
