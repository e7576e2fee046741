"""A real Pyro4 4.82 server for the payload benchmark (bench/payloads.py): one method
per payload, on a free loopback port.

    payload_server.py            -> prints `READY PYRO:bench.payloads@127.0.0.1:PORT`
    payload_server.py --write DIR   (no server) writes each reply's serialized data, as
                                    the server sends it, to DIR/PAYLOAD.SERIALIZER for
                                    bench/codec_micro.rs; files already there are kept

Payloads are built once and kept, and so is each reply's serialized form per
serializer (`prepare(name, serializer)` builds both before a row is timed), so a
timed call costs the server a lookup and a send: what the clients' times measure is
transfer plus the client's decode. Calls with anything but a prepared payload object
are serialized as usual. Accepts serpent, json, marshal and pickle. Stop it by pid.
"""
import hashlib
import os
import sys

import Pyro4
import Pyro4.util

Pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal", "pickle"}
Pyro4.config.SERVERTYPE = "thread"


def build(name):
    if name == "dict_10k":
        return {i: i for i in range(10_000)}
    if name == "dict_100k":
        return {i: i for i in range(100_000)}
    if name == "dict_1m":
        return {i: i for i in range(1_000_000)}
    if name == "list_1m":
        return list(range(1_000_000))
    if name == "records_100k":
        return [{"id": i, "name": "n%d" % i, "v": i * 0.5} for i in range(100_000)]
    if name == "bytes_10m":
        return bytes(range(256)) * (10 * 1024 * 1024 // 256)
    if name == "str_10m":
        return "abcdefghijklmnopqrstuvwxyz0123456789 " * (10 * 1024 * 1024 // 37)
    raise ValueError("unknown payload %r" % name)


PAYLOADS = {}  # name -> object
REPLIES = {}  # (serializer id, id(object)) -> (object, serialized bytes, compressed)

_serialize = Pyro4.util.SerializerBase.serializeData


def _cached_serialize(self, data, compress=False):
    hit = REPLIES.get((self.serializer_id, id(data)))
    if hit is not None and hit[0] is data:
        return hit[1], hit[2]
    return _serialize(self, data, compress)


Pyro4.util.SerializerBase.serializeData = _cached_serialize


def payload(name):
    if name not in PAYLOADS:
        PAYLOADS[name] = build(name)
    return PAYLOADS[name]


@Pyro4.expose
class Payloads(object):
    def prepare(self, name, serializer):
        """Build the payload and its reply for `serializer`; returns the reply's size in
        bytes, or the reason the serializer cannot carry it (a str)."""
        obj = payload(name)
        ser = Pyro4.util.get_serializer(serializer)
        key = (ser.serializer_id, id(obj))
        if key not in REPLIES:
            try:
                data, compressed = _serialize(ser, obj, Pyro4.config.COMPRESSION)
            except Exception as e:  # e.g. json and bytes
                return "%s: %s" % (type(e).__name__, e)
            REPLIES[key] = (obj, data, compressed)
        return len(REPLIES[key][1])

    def ping(self):
        return 1

    def dict_10k(self):
        return payload("dict_10k")

    def dict_100k(self):
        return payload("dict_100k")

    def dict_1m(self):
        return payload("dict_1m")

    def list_1m(self):
        return payload("list_1m")

    def records_100k(self):
        return payload("records_100k")

    def bytes_10m(self):
        return payload("bytes_10m")

    def str_10m(self):
        return payload("str_10m")


NAMES = ["dict_10k", "dict_100k", "dict_1m", "list_1m", "records_100k", "bytes_10m", "str_10m"]
SERIALIZERS = ["serpent", "json", "marshal", "pickle"]


def write(directory):
    """The data part of each RESULT message, one file per payload and serializer. The
    files are rewritten when this script changed since they were written (a stamp)."""
    os.makedirs(directory, exist_ok=True)
    with open(__file__, "rb") as f:
        stamp = hashlib.sha1(f.read() + Pyro4.__version__.encode()).hexdigest()
    stamp_path = os.path.join(directory, "STAMP")
    if not os.path.exists(stamp_path) or open(stamp_path).read() != stamp:
        for name in os.listdir(directory):
            if name.split(".")[0] in NAMES:
                os.remove(os.path.join(directory, name))
        with open(stamp_path, "w") as f:
            f.write(stamp)
    for name in NAMES:
        for s in SERIALIZERS:
            path = os.path.join(directory, "%s.%s" % (name, s))
            if os.path.exists(path):
                continue
            try:
                data, _ = _serialize(Pyro4.util.get_serializer(s), payload(name), False)
            except Exception as e:
                print("%s.%s: not written (%s)" % (name, s, type(e).__name__))
                continue
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)
        PAYLOADS.pop(name, None)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write(sys.argv[2])
        return
    daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Payloads(), "bench.payloads")
    print("READY %s" % uri, flush=True)
    daemon.requestLoop()


if __name__ == "__main__":
    main()
