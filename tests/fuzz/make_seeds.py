#!/usr/bin/env python3
"""Writes the binary seed inputs of tests/fuzz/corpus (protobuf, netlink, DNS): hand-made valid
and edge messages, encoded with protoc's text format so that they follow the .proto. The text
seeds (configs, state files, SMTP, HTTP) are plain files in the corpus. Run from the repository
root: python3 tests/fuzz/make_seeds.py"""
import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
PROTO_DIR = os.path.join(ROOT, "proto")
PROTO = "quorate/v1/quorate.proto"


def encode(message, text):
    return subprocess.run(["protoc", "-I", PROTO_DIR, "--encode=quorate.v1." + message, PROTO],
                          input=text.encode(), capture_output=True, check=True).stdout


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


# Lease messages, one per body kind, plus edges (a node id out of range, a zero lease, too long).
MESSAGES = {
    "prepare": 'from: 0 to: 2 instance: 7 prepare { ballot { round: 1 node: 0 incarnation: 1 instance: 7 } }',
    "accept": 'from: 0 to: 2 instance: 7 accept { ballot { round: 1 node: 0 incarnation: 1 instance: 7 } epoch: 1 lease_us: 1500000 }',
    "accept_b": 'from: 1 to: 2 instance: 9 accept { ballot { round: 2 node: 1 incarnation: 3 instance: 9 } epoch: 2 lease_us: 1700000 }',
    "promise": 'from: 2 to: 0 promise { ballot { round: 1 node: 0 } lease { owner: 1 epoch: 4 remaining_us: 300000 owner_instance: 9 } max_epoch: 4 }',
    "accepted": 'from: 2 to: 0 accepted { ballot { round: 1 node: 0 } epoch: 1 }',
    "reject": 'from: 2 to: 1 reject { ballot { round: 1 node: 1 } promised { round: 5 node: 0 } max_epoch: 9 lease { owner: 0 epoch: 9 remaining_us: 1000 } reason: REJECT_LIVE_LEASE }',
    "release": 'from: 0 to: 2 instance: 7 release { epoch: 1 }',
    "handover": 'from: 0 to: 1 instance: 7 handover { epoch: 3 }',
    "preempt": 'from: 1 to: 0 instance: 9 preempt { }',
    "ping": 'from: 0 to: 1 instance: 7 ping { }',
    "pong": 'from: 1 to: 0 instance: 9 pong { }',
    "bad_from": 'from: 3 to: 2 prepare { ballot { round: 1 } }',
    "zero_lease": 'from: 0 to: 2 accept { ballot { round: 1 } epoch: 1 lease_us: 0 }',
    "long_lease": 'from: 0 to: 2 accept { ballot { round: 1 } epoch: 1 lease_us: 3600000001 }',
    "bad_reason": 'from: 2 to: 0 reject { ballot { round: 1 } reason: REJECT_UNSPECIFIED }',
}

VIEW = ("cluster lb\\n0 alpha 198.18.0.1:7101\\n1 beta 198.18.0.2:7101\\n"
        "2 arbiter 198.18.0.3:7100\\n")


def request(message_text, lease="", name="alpha", cluster="lb",
            secret="fuzz-secret-0123456789", view=VIEW):
    text = f'cluster: "{cluster}" secret: "{secret}" from_name: "{name}" membership: "{view}" '
    if lease:
        text += f'lease: "{lease}" '
    return encode("ExchangeRequest", text + "message { " + message_text + " }")


def convert_seeds():
    for name, text in MESSAGES.items():
        write("convert", "msg_" + name, encode("PeerMessage", text))
    write("convert", "req_accept", request(MESSAGES["accept"]))
    write("convert", "req_lease", request(MESSAGES["prepare"], lease="web"))
    write("convert", "req_bad_view", request(MESSAGES["ping"], view="cluster lb\\n0 a b\\n"))
    write("convert", "empty", b"")


def record(flags, payload):
    return struct.pack("<BH", flags, len(payload)) + payload


def arbiter_seeds():
    accept = request(MESSAGES["accept"])
    renew = accept  # the same Accept again later: a renewal
    other = request(MESSAGES["accept_b"], name="beta")
    # Wait out the quarantine (18 steps of 100 ms), then claim, renew, release; a second director
    # claims after the lease; a lease of its own ("web"); refusals of every kind.
    quiet = 18 << 3
    write("arbiter_exchange", "claim_renew_release",
          record(quiet | 3, accept) + record((5 << 3) | 3, renew) +
          record(3, request(MESSAGES["release"])))
    write("arbiter_exchange", "takeover",
          record(quiet | 3, accept) + record((20 << 3) | 3, other))
    write("arbiter_exchange", "contested",
          record(quiet | 3, accept) + record(3, other) +
          record(3, request(MESSAGES["prepare"])))
    write("arbiter_exchange", "named_lease",
          record(quiet | 7, request(MESSAGES["accept"], lease="web")))
    write("arbiter_exchange", "refusals",
          record(0, request(MESSAGES["accept"], cluster="nope")) +
          record(0, request(MESSAGES["accept"], secret="wrong")) +
          record(1, request(MESSAGES["accept"], view="cluster lb\\n")) +
          record(3, request(MESSAGES["bad_from"])) +
          record(3, request(MESSAGES["ping"])) +
          record(quiet | 1, request(MESSAGES["accept"], name="beta")) +
          record(3, request(MESSAGES["zero_lease"])) +
          record(3, request(MESSAGES["accept"], lease="bad name!")))
    write("arbiter_exchange", "too_early", record(3, accept))


# Netlink: nlmsghdr (len, type, flags, seq, pid) + payload, padded to 4 bytes.
def nlmsg(mtype, flags, seq, payload):
    body = struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload
    return body + b"\0" * (-len(body) % 4)


def attr(atype, data):
    body = struct.pack("=HH", 4 + len(data), atype) + data
    return body + b"\0" * (-len(body) % 4)


NLMSG_ERROR, NLMSG_DONE, NLM_F_MULTI = 2, 3, 2
GENL_HDR = struct.pack("=BBH", 1, 1, 0)


def ack(seq, errno, extack=b""):
    # nlmsgerr: error, then the request's header; extack attributes after it.
    return nlmsg(NLMSG_ERROR, 0x100 if extack else 0, seq,
                 struct.pack("=i", -errno) + struct.pack("=IHHII", 16, 0, 0, seq, 0) + extack)


def netlink_seeds():
    first = 1000
    head = struct.pack("=I", first)
    # Fence acks: every message of a two-table slot write acked, one refused with a reason.
    acks = b"".join(ack(first + 1 + i, 0) for i in range(4))
    write("netlink", "fence_acks_ok", head + acks)
    write("netlink", "fence_ack_refused",
          head + ack(first + 1, 0) + ack(first + 2, 2, attr(1, b"No such file or directory\0")) +
          ack(first + 3, 0) + ack(first + 4, 0))
    write("netlink", "fence_batch_refused", head + ack(first, 16))
    write("netlink", "fence_wrapping", struct.pack("=I", 0xFFFFFFFE) +
          b"".join(ack((0xFFFFFFFE + 1 + i) & 0xFFFFFFFF, 0) for i in range(4)))
    # IPVS: a service (IPVS_CMD_ATTR_SERVICE nest) with its key, scheduler, flags, timeout,
    # netmask, stats; a destination; a daemon; info; the controller's family id.
    svc = (attr(1, struct.pack("=H", 2)) + attr(2, struct.pack("=H", 6)) +
           attr(3, bytes([198, 18, 0, 10]) + b"\0" * 12) + attr(4, struct.pack(">H", 80)) +
           attr(6, b"wlc\0") + attr(7, struct.pack("=II", 0, 0xFFFFFFFF)) +
           attr(8, struct.pack("=I", 300)) + attr(9, struct.pack(">I", 0xFFFFFF00)))
    write("netlink", "ipvs_service", head + nlmsg(0x20, NLM_F_MULTI, 5, GENL_HDR + attr(1, svc)) +
          nlmsg(NLMSG_DONE, NLM_F_MULTI, 5, b"\0\0\0\0"))
    dest = (attr(1, bytes([198, 18, 0, 21]) + b"\0" * 12) + attr(2, struct.pack(">H", 80)) +
            attr(3, struct.pack("=I", 0)) + attr(4, struct.pack("=I", 2)) +
            attr(5, struct.pack("=I", 0)) + attr(6, struct.pack("=I", 0)) +
            attr(7, struct.pack("=I", 3)) + attr(8, struct.pack("=I", 1)) +
            attr(11, struct.pack("=H", 2)))
    write("netlink", "ipvs_destination", head + nlmsg(0x20, NLM_F_MULTI, 6, GENL_HDR + attr(2, dest)))
    daemon = (attr(1, struct.pack("=I", 1)) + attr(2, b"eth0\0") + attr(3, struct.pack("=I", 51)))
    write("netlink", "ipvs_daemon", head + nlmsg(0x20, 0, 7, GENL_HDR + attr(3, daemon)))
    write("netlink", "ipvs_info", head + nlmsg(0x20, 0, 8, GENL_HDR + attr(1, struct.pack("=I", 0x010201)) +
                                              attr(2, struct.pack("=I", 4096))))
    write("netlink", "genl_family", head + nlmsg(0x10, 0, 9, GENL_HDR + attr(2, b"IPVS\0") +
                                                attr(1, struct.pack("=H", 37))))
    write("netlink", "truncated", head + nlmsg(0x20, 0, 5, GENL_HDR + attr(1, svc))[:-7])
    write("netlink", "overlong_attr", head + nlmsg(0x20, 0, 5, GENL_HDR + struct.pack("=HH", 200, 1)))


def dns_seeds():
    def name(n):
        return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".") if p) + b"\0"
    q = name("example.org") + struct.pack(">HH", 6, 1)
    soa = (b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 300, 22) + b"\x02ns\xc0\x0c\x04host\xc0\x0c" +
           struct.pack(">IIIII", 1, 2, 3, 4, 5)[:12])
    prefix = struct.pack(">HH", 0x1234, 6)  # the query's id and type, then the datagram
    write("dns", "soa_answer", prefix + struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q + soa)
    write("dns", "nxdomain", prefix + struct.pack(">HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0) + q)
    a = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([198, 18, 0, 1])
    write("dns", "wrong_type", prefix + struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q + a)
    write("dns", "pointer_loop", prefix + struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) +
          b"\xc0\x0c" + struct.pack(">HH", 6, 1) + b"\xc0\x0c")
    write("dns", "lying_counts", prefix + struct.pack(">HHHHHH", 0x1234, 0x8180, 65535, 65535, 0, 0) + q)
    write("dns", "other_id", prefix + struct.pack(">HHHHHH", 0x4321, 0x8180, 0, 0, 0, 0))
    write("dns", "query_not_reply", prefix + struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q)


if __name__ == "__main__":
    convert_seeds()
    arbiter_seeds()
    netlink_seeds()
    dns_seeds()
