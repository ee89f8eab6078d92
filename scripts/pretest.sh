#!/usr/bin/env bash
# `npm test`'s pretest step: make sure what the tests talk to is here, so that
# `npm test` passes by itself on a fresh machine. Idempotent and quick when
# everything is present; one clear line for anything that cannot be had (the
# tests that need it then fail and say why — they are never skipped).
#
#   Chromium (browser tests), nginx and openssl (gateway tests), Debian's Django + DRF +
#   simplejwt (the Django fixtures' generator): Debian packages.
#   PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379: started when down.
set -uo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || packages+=(nginx)
# The nginx test serves docs/gateway.md's block over TLS with a certificate it makes.
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
/usr/bin/python3 -c 'import django, rest_framework, rest_framework_simplejwt' >/dev/null 2>&1 \
  || packages+=(python3-django python3-djangorestframework python3-djangorestframework-simplejwt)

if [ ${#packages[@]} -gt 0 ]; then
  echo "pretest: installing ${packages[*]} (Debian packages)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "pretest: cannot install ${packages[*]}: not root (run: sudo apt-get install -y ${packages[*]})"
  elif ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null; }; then
    echo "pretest: cannot install ${packages[*]}: apt-get failed"
  fi
fi

if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "pretest: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start \
      || echo "pretest: cannot start PostgreSQL (tests that use it will fail)"
  fi
else
  echo "pretest: PostgreSQL client tools not found; the PostgreSQL tests need a server on 127.0.0.1:5432"
fi

if command -v redis-cli >/dev/null 2>&1; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "pretest: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null \
      || echo "pretest: cannot start Redis (tests that use it will fail)"
  fi
else
  echo "pretest: Redis not found; the Redis tests need a server on 127.0.0.1:6379"
fi
exit 0
