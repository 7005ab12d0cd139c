# Sourced by scripts/test.sh: a throwaway OpenLDAP slapd for the LDAP
# sign-in tests (shared/ldapauth). Needs RUN (the run's temp dir), pids (the
# array test.sh stops on exit) and free_port from test.sh.
#
#   ldap_install   installs Debian's slapd and ldap-utils once (as root)
#   start_slapd    config + CA/server certificate + directory.ldif in
#                  $RUN/ldap, slapd on a free ldap:// port (StartTLS) and a
#                  free ldaps:// port, then exports the ORBIT_LDAP_* variables

LDAP_FIXTURES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ldap_install() {
  if command -v slapd >/dev/null && command -v slapadd >/dev/null && command -v ldapwhoami >/dev/null \
    && dpkg -s slapd ldap-utils >/dev/null 2>&1; then return 0; fi
  if [[ $(id -u) != 0 ]]; then
    echo "slapd and ldap-utils are required for the LDAP tests: apt-get install slapd ldap-utils (as root)" >&2
    return 1
  fi
  echo "installing slapd and ldap-utils (Debian packages) for the LDAP tests"
  # No default database and no system service: the tests run their own slapd.
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null
}

start_slapd() {
  ldap_install
  local dir="$RUN/ldap" ldap_port ldaps_port
  mkdir -p "$dir/data"
  ldap_port=$(free_port); ldaps_port=$(free_port)
  # A CA and a server certificate for 127.0.0.1 and localhost, made for this run.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Orbit test LDAP CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  sed "s|@RUN@|$dir|g" "$LDAP_FIXTURES/slapd.conf.in" >"$dir/slapd.conf"
  slapadd -q -f "$dir/slapd.conf" -l "$LDAP_FIXTURES/directory.ldif" >"$dir/slapadd.log" 2>&1 \
    || { echo "slapadd failed:" >&2; cat "$dir/slapadd.log" >&2; return 1; }
  # -d keeps slapd in the foreground, so its pid is ours to stop. No -u/-g:
  # it runs as whoever runs the tests (root on CI), owning its own files.
  slapd -d 0 -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$ldap_port/ ldaps://127.0.0.1:$ldaps_port/" \
    >"$dir/slapd.log" 2>&1 &
  pids+=($!)
  export ORBIT_LDAP_URL="ldap://127.0.0.1:$ldap_port"
  export ORBIT_LDAP_LDAPS_URL="ldaps://127.0.0.1:$ldaps_port"
  export ORBIT_LDAP_CA="$dir/ca.pem"
  export ORBIT_LDAP_BIND_DN="cn=orbit-search,ou=system,dc=orbit,dc=test"
  export ORBIT_LDAP_BIND_PASSWORD="search-secret-7Qx"
  export ORBIT_LDAP_BASE_DN="ou=people,dc=orbit,dc=test"
  for _ in $(seq 1 120); do
    if LDAPTLS_CACERT="$dir/ca.pem" ldapwhoami -x -H "$ORBIT_LDAP_LDAPS_URL" \
      -D "$ORBIT_LDAP_BIND_DN" -w "$ORBIT_LDAP_BIND_PASSWORD" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "slapd did not start; its log:" >&2; tail -50 "$dir/slapd.log" >&2; return 1
}
