#!/bin/sh
# make-certs.sh DIR: a throwaway PKI for the TLS tests and examples, made
# with the openssl command line (nothing leaves the machine):
#   ca.pem ca.key           a test CA
#   server.pem server.key   localhost and 127.0.0.1, signed by the CA
#   expired.pem             the same name and key, expired a day ago
#   self.pem self.key       localhost, self-signed
#   client.pem client.key  a client certificate, signed by the CA
#   other.pem               other.test only (not localhost), signed by the
#                           CA, with server.key: a host name mismatch
# EC P-256 keys: quick to make and to use.
set -eu
dir=${1:?usage: make-certs.sh DIR}
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
cat >ext.cnf <<'CNF'
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[other]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=weft test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
key server.key
openssl req -new -key server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile ext.cnf -extensions leaf -out server.pem 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days -1 -extfile ext.cnf -extensions leaf -out expired.pem 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile ext.cnf -extensions other -subj "/CN=other.test" \
  -out other.pem 2>/dev/null
key self.key
openssl req -x509 -new -key self.key -out self.pem -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
key client.key
openssl req -new -key client.key -out client.csr -subj "/CN=weft test client" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile ext.cnf -extensions client -out client.pem 2>/dev/null
rm -f server.csr client.csr ext.cnf ca.srl
