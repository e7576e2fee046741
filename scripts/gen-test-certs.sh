#!/usr/bin/env bash
# Make throwaway TLS material for the tests in DIR: a CA, a server certificate for
# 127.0.0.1/localhost signed by it, a client certificate signed by it, and an unrelated
# second CA (for "wrong certificate" tests).
set -euo pipefail
dir=${1:?usage: gen-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pyro_async test CA" -keyout ca.key -out ca.crt
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" -keyout other-ca.key -out other-ca.crt
printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >server.ext
q openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
q openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt
printf "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n" >client.ext
q openssl req -newkey rsa:2048 -nodes -subj "/CN=pyro_async test client" -keyout client.key -out client.csr
q openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt
echo "$dir"
