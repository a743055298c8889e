#!/usr/bin/env bash
# Makes the certificates of quorate's mutual TLS with openssl: a cluster CA and its directors'
# certificates, or an arbiter's CA and certificate (docs/security.md, "Making certificates").
set -euo pipefail

usage() {
  cat <<'EOF'
usage: make-certs.sh [--days N] [--expired] DIR CLUSTER NODE...
       make-certs.sh [--days N] [--expired] --arbiter NAME DIR

  DIR/CLUSTER/ca.pem, ca.key          the cluster's CA (made once, reused when present)
  DIR/CLUSTER/NODE.pem, NODE.key      a director: one URI SAN quorate://CLUSTER/NODE
  DIR/arbiter-NAME/ca.pem, ca.key     the arbiter's CA (made once, reused when present)
  DIR/arbiter-NAME/NAME.pem, NAME.key the arbiter: one URI SAN quorate-arbiter://NAME

  Keys are EC P-256, written 0600. --days sets the node certificates' validity (default 365;
  a CA lasts ten times as long). --expired makes node certificates that expired in 2020 (for
  tests). Existing node certificates and keys are replaced.
EOF
}

days=365
expired=0
arbiter=""
while (($#)); do
  case "$1" in
    --days) days="${2:?--days needs a number}"; shift 2 ;;
    --expired) expired=1; shift ;;
    --arbiter) arbiter="${2:?--arbiter needs a name}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --*) echo "make-certs.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done

name_ok() { [[ "$1" =~ ^[A-Za-z0-9._-]{1,64}$ ]]; }
if [[ -n "$arbiter" ]]; then
  (($# == 1)) || { usage >&2; exit 2; }
  name_ok "$arbiter" || { echo "make-certs.sh: bad arbiter name \"$arbiter\"" >&2; exit 2; }
  dir="$1/arbiter-$arbiter"
  ca_subject="/CN=quorate arbiter CA $arbiter"
  nodes=("$arbiter")
else
  (($# >= 3)) || { usage >&2; exit 2; }
  cluster="$2"
  name_ok "$cluster" || { echo "make-certs.sh: bad cluster name \"$cluster\"" >&2; exit 2; }
  dir="$1/$cluster"
  ca_subject="/CN=quorate cluster CA $cluster"
  shift 2
  nodes=("$@")
fi
[[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] || { echo "make-certs.sh: bad --days \"$days\"" >&2; exit 2; }
for n in "${nodes[@]}"; do
  name_ok "$n" || { echo "make-certs.sh: bad node name \"$n\"" >&2; exit 2; }
done

umask 077
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f "$dir/ca.pem" || ! -f "$dir/ca.key" ]]; then
  newkey "$dir/ca.key"
  openssl req -new -x509 -key "$dir/ca.key" -out "$dir/ca.pem" -days $((days * 10)) \
    -subj "$ca_subject" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

for n in "${nodes[@]}"; do
  if [[ -n "$arbiter" ]]; then uri="quorate-arbiter://$n"; else uri="quorate://$cluster/$n"; fi
  newkey "$dir/$n.key"
  openssl req -new -key "$dir/$n.key" -subj "/CN=$n" -out "$work/$n.csr" 2>/dev/null
  cat >"$work/$n.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:$uri
EOF
  if ((expired)); then
    # `x509 -days` cannot reach into the past: `openssl ca` takes explicit dates.
    mkdir -p "$work/ca"
    : >"$work/ca/index.txt"
    cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = quorate
[quorate]
database = $work/ca/index.txt
new_certs_dir = $work/ca
serial = $work/ca/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
    openssl rand -hex 16 >"$work/ca/serial"
    openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" \
      -in "$work/$n.csr" -out "$dir/$n.pem" -notext -extfile "$work/$n.ext" \
      -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
  else
    openssl x509 -req -in "$work/$n.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -CAserial "$work/serial" -days "$days" -sha256 \
      -extfile "$work/$n.ext" -out "$dir/$n.pem" 2>/dev/null
  fi
  chmod 0644 "$dir/$n.pem"
  echo "$dir/$n.pem  $uri"
done
chmod 0644 "$dir/ca.pem"
