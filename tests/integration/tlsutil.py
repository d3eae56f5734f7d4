"""tlsutil.py: certificates for the tests of TLS to Redis (rediss://).

Owns: a test CA and an unrelated second CA, made with the openssl command
(EC P-256 keys: quick to make); certificates signed by the first: a server
certificate for localhost and 127.0.0.1 (subjectAltName), one that expired
in 2020 (`openssl ca -startdate/-enddate`: openssl 3.0's x509 and req
cannot set a start date), one for a wrong name (wrong.example only), and a
client certificate (mutual TLS); the redis-server arguments of a TLS port
and the redis.tls section pulsed gets for them.

Invariants: the certificates are made once per test process, in a
private directory removed at exit; nothing here starts a process but
openssl.
"""
import atexit
import os
import shutil
import subprocess
import tempfile

_CERTS = None  # the one Certs of this process (made on first use)


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


class Certs:
    """Every file a TLS test needs, as absolute paths (attributes)."""

    def __init__(self, d):
        self.dir = d
        j = lambda n: os.path.join(d, n)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "otherca"):
            _openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt",
                     "-days", "30", "-subj", "/CN=pulsed test %s" % ca,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        with open(j("ext.cnf"), "w") as f:
            f.write("[server]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n"
                    "[wrong]\nsubjectAltName=DNS:wrong.example\n"
                    "extendedKeyUsage=serverAuth\n"
                    "[client]\nextendedKeyUsage=clientAuth\n")
        for name, cn, ext in (("server", "localhost", "server"),
                              ("wrongname", "wrong.example", "wrong"),
                              ("client", "pulsed", "client")):
            _openssl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                     "-subj", "/CN=" + cn, cwd=d)
            _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
                     "ca.key", "-CAcreateserial", "-days", "30", "-sha256",
                     "-extfile", "ext.cnf", "-extensions", ext, "-out", name + ".crt",
                     cwd=d)
        # expired: valid for January 2020 only, through openssl ca
        os.makedirs(j("newcerts"))
        open(j("index.txt"), "w").close()
        with open(j("serial"), "w") as f:
            f.write("1000\n")
        with open(j("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=tca\n[tca]\ndir=%s\ndatabase=$dir/index.txt\n"
                    "new_certs_dir=$dir/newcerts\nserial=$dir/serial\n"
                    "default_md=sha256\npolicy=pol\n[pol]\ncommonName=supplied\n"
                    "[server]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n" % d)
        _openssl("req", "-new", *ec, "-keyout", "expired.key", "-out", "expired.csr",
                 "-subj", "/CN=localhost", cwd=d)
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile",
                 "ca.key", "-in", "expired.csr", "-out", "expired.crt", "-notext",
                 "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
                 "-extensions", "server", cwd=d)
        for n in ("ca", "otherca", "server", "wrongname", "client", "expired"):
            setattr(self, n + "_crt", j(n + ".crt"))
            setattr(self, n + "_key", j(n + ".key"))

    def server(self, which="server", auth_clients="no"):
        """What harness.Redis needs for a TLS port: the server's certificate
        (`server`, `expired` or `wrongname`) and whether it asks clients for
        theirs (`no`, `optional`, `yes`)."""
        return {"cert": getattr(self, which + "_crt"), "key": getattr(self, which + "_key"),
                "ca": self.ca_crt, "auth_clients": auth_clients}

    def client(self, **over):
        """pulsed's redis.tls section: trust the test CA; over adds or
        replaces keys (cert_file, server_name, ...)."""
        conf = {"ca_file": self.ca_crt}
        conf.update(over)
        return conf


def certs():
    """The certificates of this test process, made on first use."""
    global _CERTS
    if _CERTS is None:
        d = tempfile.mkdtemp(prefix="pulsed-certs-")
        atexit.register(shutil.rmtree, d, True)
        _CERTS = Certs(d)
    return _CERTS
