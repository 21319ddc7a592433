#!/usr/bin/env python3
"""pcapgen — write classic pcap files holding realistic TCP sessions.

Standard library only, deterministic for a given seed: the same script with the
same seed writes the same bytes.  Used by scripts/gen_demo.py and by whoever
needs a capture for an edge case (reordering, gaps, VLANs, fragments, ...).

    from pcapgen import Pcap, Tcp, LINKTYPE_ETHERNET

    with Pcap("x.pcap", LINKTYPE_ETHERNET, seed=1) as pc:
        t = Tcp(pc, client=("192.0.2.1", 40000), server=("198.51.100.2", 25),
                t0=1233571642.0, isn=(0xFFFFFF00, None), vlan=[100])
        t.handshake()
        t.server(b"220 mx ESMTP\\r\\n")
        t.client(b"EHLO a.example\\r\\n")
        ...
        t.close()

The file
--------
`Pcap(path, linktype, seed=0, snaplen=262144)` buffers every frame and, on
close(), writes them sorted by timestamp (stable: frames with the same time
keep the order in which they were made).  Several Tcp sessions can therefore be
generated one after the other, each on its own clock, and still come out
interleaved in time order.  Classic pcap, little-endian, microsecond stamps.

Link types (the frame is built around each IP packet):
  LINKTYPE_NULL (0)       4-byte address family in the file's byte order
                          (AF_INET 2, AF_INET6 24 by default: BSD's value)
  LINKTYPE_ETHERNET (1)   optional tags: vlan=[100] gives one 802.1Q tag;
                          vlan=[10, 100] gives QinQ (0x88a8 outer S-tag,
                          0x8100 inner C-tag); (tpid, vid) tuples choose TPIDs
  LINKTYPE_RAW (101)      the IP packet alone
  LINKTYPE_LINUX_SLL (113) 16-byte cooked header
  LINKTYPE_LINUX_SLL2 (276) 20-byte cooked header v2

IP: IPv4 (header checksum computed, DF set, incrementing IP ID per host,
optional fragmentation) or IPv6 (chosen from the address text; optional
fragment header).  TCP: checksum right by default; bad_csum="client"/"server"/
"both" writes the value a checksum-offloading NIC leaves behind (the
pseudo-header sum only), as seen in captures taken on the sending host.

The session
-----------
`Tcp(pcap, client=(ip, port), server=(ip, port), t0=seconds, isn=(c, s), ...)`
  handshake()                SYN (MSS, SACK-permitted, timestamps, window scale),
                             SYN/ACK, ACK
  client(data, segsize=None, swap=(), dup=(), drop=(), ack="auto", delay=None)
  server(data, ...)          the same from the other side
  close(first="client")      FIN/ACK, FIN/ACK, ACK
  reset(side="client")       RST/ACK
  segment(side, rel_seq, payload, flags="PA")  one hand-made segment (overlaps,
                             conflicting retransmissions, ...); rel_seq counts
                             from the first data byte (ISN + 1)
data is cut at segsize (default: the peer's MSS) into segments numbered 0..n-1
for this call, then
  swap=[(i, j), ...]   segments i and j change places on the wire
  dup=[i, ...]         segment i is retransmitted (a second copy) after the flight
  drop=[i, ...]        segment i is missing from the capture (capture loss: the
                       endpoints did receive it, so ACKs cover it)
  frag=N               IPv4/IPv6-fragment every packet of this call whose IP
                       payload exceeds N bytes (N a multiple of 8)
ack: "auto" = delayed ACK (one pure ACK per two full segments, the last bytes
are acknowledged by the peer's next segment); True = also a pure ACK after the
last segment; False = no pure ACKs at all.

Clock: the capture point is next to the client.  A client segment appears
`delay` (default: a short think time) after the previous frame; the server's
answer appears one RTT plus a little processing time after the client's last
frame.  Consecutive segments of one flight are tens of microseconds apart.
Everything random (ports, ISNs, IP IDs, jitter) comes from random.Random(seed).

`read_pcap(path)` reads a classic pcap back: (linktype, [(ts_us, frame), ...]).
"""

import ipaddress
import random
import struct

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_FLAG_LETTERS = {"F": TCP_FIN, "S": TCP_SYN, "R": TCP_RST, "P": TCP_PSH, "A": TCP_ACK, "U": TCP_URG}

MOD32 = 1 << 32


def csum16(data, start=0):
    """RFC 1071 one's-complement sum of data (not complemented), folded to 16 bits."""
    if len(data) & 1:
        data = data + b"\0"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data, start=0):
    return (~csum16(data, start)) & 0xFFFF


def _mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def _mac_for(ip, rng_bytes):
    """A stable locally administered MAC for an address."""
    h = 0
    for b in ip.packed:
        h = (h * 131 + b) & 0xFFFFFFFF
    return bytes([0x02, rng_bytes]) + struct.pack("!I", h)


class Pcap:
    """A classic pcap file written on close(), frames sorted by time."""

    def __init__(self, path, linktype=LINKTYPE_ETHERNET, seed=0, snaplen=262144, null_af6=24):
        self.path = path
        self.linktype = linktype
        self.snaplen = snaplen
        self.null_af6 = null_af6
        self.rng = random.Random(seed)
        self.frames = []  # (ts_us, serial, frame)
        self._serial = 0
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()

    def add(self, ts_us, frame):
        """Queue one link-layer frame at ts_us (integer microseconds)."""
        self.frames.append((int(ts_us), self._serial, bytes(frame)))
        self._serial += 1

    def frame_for(self, ip_packet, version, src_mac=b"\0" * 6, dst_mac=b"\0" * 6, vlan=(), outgoing=True):
        """Wrap an IP packet in this file's link layer."""
        lt = self.linktype
        etype = ETH_IPV4 if version == 4 else ETH_IPV6
        if lt == LINKTYPE_ETHERNET:
            tags = b""
            vl = list(vlan or ())
            for k, v in enumerate(vl):
                if isinstance(v, tuple):
                    tpid, vid = v
                else:
                    tpid = TPID_8021AD if (len(vl) > 1 and k == 0) else TPID_8021Q
                    vid = v
                tags += struct.pack("!HH", tpid, vid & 0x0FFF)
            return dst_mac + src_mac + tags + struct.pack("!H", etype) + ip_packet
        if lt == LINKTYPE_RAW:
            return ip_packet
        if lt == LINKTYPE_NULL:
            af = 2 if version == 4 else self.null_af6
            return struct.pack("<I", af) + ip_packet
        if lt == LINKTYPE_LINUX_SLL:
            ptype = 4 if outgoing else 0  # PACKET_OUTGOING / PACKET_HOST
            return struct.pack("!HHH", ptype, 1, 6) + src_mac + b"\0\0" + struct.pack("!H", etype) + ip_packet
        if lt == LINKTYPE_LINUX_SLL2:
            ptype = 4 if outgoing else 0
            return (struct.pack("!HHIHBB", etype, 0, 2, 1, ptype, 6) + src_mac + b"\0\0" + ip_packet)
        raise ValueError("unsupported link type %d" % lt)

    def close(self):
        if self.closed:
            return
        self.closed = True
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen, self.linktype)]
        for ts, _, fr in sorted(self.frames, key=lambda x: (x[0], x[1])):
            cap = fr[: self.snaplen]
            out.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(cap), len(fr)))
            out.append(cap)
        data = b"".join(out)
        if hasattr(self.path, "write"):
            self.path.write(data)
        else:
            with open(self.path, "wb") as f:
                f.write(data)


def read_pcap(path):
    """Read a classic pcap (either byte order, us or ns): (linktype, [(ts_us, frame)])."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off, frames = 24, []
    while off + 16 <= len(data):
        s, us, incl, _orig = struct.unpack(e + "IIII", data[off: off + 16])
        off += 16
        if off + incl > len(data):
            break
        frames.append((s * 1000000 + (us // 1000 if nano else us), data[off: off + incl]))
        off += incl
    return linktype, frames


# ---------------------------------------------------------------- IP layer

class _Host:
    def __init__(self, ip, port, mac, ttl, ipid):
        self.ip = ip
        self.port = port
        self.mac = mac
        self.ttl = ttl
        self.ipid = ipid


def ipv4_packet(src, dst, proto, payload, ipid, ttl=64, df=True, frag_off=0, more=False, tos=0):
    flags = (0x4000 if df else 0) | (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ipid & 0xFFFF, flags,
                      ttl, proto, 0, src.packed, dst.packed)
    c = inet_csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv4_fragments(src, dst, proto, payload, ipid, ttl, size):
    """Split one datagram's payload into fragments of `size` bytes (multiple of 8)."""
    assert size % 8 == 0 and size > 0
    out = []
    for off in range(0, len(payload), size):
        part = payload[off: off + size]
        out.append(ipv4_packet(src, dst, proto, part, ipid, ttl, df=False, frag_off=off,
                               more=off + size < len(payload)))
    return out


def ipv6_packet(src, dst, nxt, payload, hlim=64, flow=0):
    return struct.pack("!IHBB16s16s", (6 << 28) | (flow & 0xFFFFF), len(payload), nxt, hlim,
                       src.packed, dst.packed) + payload


def ipv6_fragments(src, dst, nxt, payload, ident, hlim, size, flow=0):
    assert size % 8 == 0 and size > 0
    out = []
    for off in range(0, len(payload), size):
        part = payload[off: off + size]
        more = 1 if off + size < len(payload) else 0
        fh = struct.pack("!BBHI", nxt, 0, off | more, ident)
        out.append(ipv6_packet(src, dst, 44, fh + part, hlim, flow))
    return out


def tcp_pseudo_sum(src, dst, length):
    if src.version == 4:
        ph = src.packed + dst.packed + struct.pack("!BBH", 0, 6, length)
    else:
        ph = src.packed + dst.packed + struct.pack("!IBBBB", length, 0, 0, 0, 6)
    return csum16(ph)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, win, options=b"", payload=b"", bad_csum=False):
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)  # NOP padding
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq % MOD32, ack % MOD32, off << 4, flags,
                      win, 0, 0) + options
    seg = hdr + payload
    psum = tcp_pseudo_sum(src, dst, len(seg))
    if bad_csum:
        c = psum  # what an offloading NIC's driver leaves: the pseudo-header sum only
        if c == inet_csum(seg, psum):
            c ^= 0xFFFF
    else:
        c = inet_csum(seg, psum)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


# ---------------------------------------------------------------- TCP session

class _Side:
    def __init__(self, host, isn, mss, wscale, win):
        self.h = host
        self.isn = isn % MOD32
        self.nxt = 0          # next relative sequence number to send (0 = the SYN)
        self.mss = mss
        self.wscale = wscale
        self.win = win        # advertised window (unscaled field value after the SYN)
        self.rcv = 0          # highest contiguous relative seq received from the peer (+1 for SYN)
        self.ts0 = 0
        self.ts_recent = 0
        self.fin_sent = False
        self.unacked_full = 0


class Tcp:
    """One TCP connection written into a Pcap.  See the module docstring."""

    def __init__(self, pcap, client, server, t0=0.0, isn=(None, None), vlan=(), rtt=0.030,
                 mss=None, sack=True, timestamps=True, wscale=7, bad_csum=None,
                 client_mac=None, server_mac=None, ttl=(64, 52), seed=None, frag=None,
                 proc=0.002):
        self.pc = pcap
        self.rng = random.Random(seed) if seed is not None else random.Random(pcap.rng.random())
        rng = self.rng
        cip = ipaddress.ip_address(client[0])
        sip = ipaddress.ip_address(server[0])
        if cip.version != sip.version:
            raise ValueError("client and server must have the same IP version")
        self.v = cip.version
        cport = client[1] if client[1] else rng.randint(32768, 60999)
        cmac = _mac(client_mac) if client_mac else _mac_for(cip, 0x00)
        smac = _mac(server_mac) if server_mac else _mac_for(sip, 0x01)
        c = _Host(cip, cport, cmac, ttl[0], rng.randint(0, 0xFFFF))
        s = _Host(sip, server[1], smac, ttl[1], rng.randint(0, 0xFFFF))
        dmss = 1460 if self.v == 4 else 1440
        cmss, smss = (mss if isinstance(mss, tuple) else (mss or dmss, mss or dmss))
        cisn = isn[0] if isn[0] is not None else rng.randint(0, MOD32 - 1)
        sisn = isn[1] if isn[1] is not None else rng.randint(0, MOD32 - 1)
        self.c = _Side(c, cisn, cmss, wscale, 502)
        self.s = _Side(s, sisn, smss, wscale, 509)
        self.c.ts0 = rng.randint(1, 0x7FFFFFFF)
        self.s.ts0 = rng.randint(1, 0x7FFFFFFF)
        self.vlan = list(vlan or ())
        self.rtt = int(rtt * 1e6)
        self.proc = int(proc * 1e6)
        self.sack = sack
        self.timestamps = timestamps
        self.bad = bad_csum or ""
        self.frag = frag
        self.flow = rng.randint(0, 0xFFFFF)
        self.now = int(round(t0 * 1e6))
        self.t0 = self.now
        self.last_side = None
        self.established = False

    # -- helpers
    def _sides(self, side):
        return (self.c, self.s) if side == "client" else (self.s, self.c)

    def _tsopt(self, me, t):
        if not self.timestamps:
            return b""
        val = (me.ts0 + (t - self.t0) // 1000) % MOD32
        return b"\x01\x01" + struct.pack("!BBII", 8, 10, val, me.ts_recent)

    def _emit(self, side, t, flags, rel_seq, payload=b"", options=None, ack_rel=None, frag=None,
              sack_blocks=()):
        me, peer = self._sides(side)
        if options is None:
            options = self._tsopt(me, t)
            if sack_blocks and self.sack:
                blocks = b"".join(struct.pack("!II", (peer.isn + a) % MOD32, (peer.isn + b) % MOD32)
                                  for a, b in sack_blocks[:3])
                options += b"\x01\x01" + struct.pack("!BB", 5, 2 + len(blocks)) + blocks
        if ack_rel is None:
            ack_rel = me.rcv
        fl = flags
        if isinstance(flags, str):
            fl = 0
            for ch in flags:
                fl |= _FLAG_LETTERS[ch]
        ackno = (peer.isn + ack_rel) % MOD32 if fl & TCP_ACK else 0
        bad = self.bad in ("both", side)
        seg = tcp_segment(me.h.ip, peer.h.ip, me.h.port, peer.h.port, (me.isn + rel_seq) % MOD32,
                          ackno, fl, me.win if not fl & TCP_SYN else 64240 if self.v == 4 else 64800,
                          options, payload, bad)
        frag = frag if frag is not None else self.frag
        if self.v == 4:
            me.h.ipid = (me.h.ipid + 1) & 0xFFFF
            if frag and len(seg) > frag:
                pkts = ipv4_fragments(me.h.ip, peer.h.ip, 6, seg, me.h.ipid, me.h.ttl, frag)
            else:
                pkts = [ipv4_packet(me.h.ip, peer.h.ip, 6, seg, me.h.ipid, me.h.ttl)]
        else:
            if frag and len(seg) > frag:
                me.h.ipid = (me.h.ipid + 1) & 0xFFFF
                pkts = ipv6_fragments(me.h.ip, peer.h.ip, 6, seg, (me.h.ipid | (self.flow << 16)) & 0xFFFFFFFF,
                                      me.h.ttl, frag, self.flow)
            else:
                pkts = [ipv6_packet(me.h.ip, peer.h.ip, 6, seg, me.h.ttl, self.flow)]
        for k, p in enumerate(pkts):
            fr = self.pc.frame_for(p, self.v, me.h.mac, peer.h.mac, self.vlan, outgoing=(side == "client"))
            self.pc.add(t + k * 2, fr)
        self.now = max(self.now, t + 2 * (len(pkts) - 1))

    def _recv_ts(self, me, peer, t):
        # the receiver remembers the sender's timestamp value for TSecr
        if self.timestamps:
            peer.ts_recent = (me.ts0 + (t - self.t0) // 1000) % MOD32

    def _gap(self):
        return self.rng.randint(8, 40)

    # -- connection management
    def handshake(self, syn_retries=0):
        c, s = self.c, self.s
        t = self.now
        for _ in range(syn_retries + 1):
            opts = struct.pack("!BBH", 2, 4, c.mss)
            if self.sack:
                opts += b"\x04\x02"
            else:
                opts += b"\x01\x01"
            if self.timestamps:
                opts += struct.pack("!BBII", 8, 10, (c.ts0 + (t - self.t0) // 1000) % MOD32, 0)
            else:
                opts += b"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
            opts += b"\x01" + struct.pack("!BBB", 3, 3, c.wscale)
            self._emit("client", t, "S", 0, options=opts, ack_rel=0)
            last_syn = t
            t += 1000000
        t = last_syn
        self._recv_ts(c, s, t)
        c.nxt = 1
        s.rcv = 1
        t += self.rtt
        opts = struct.pack("!BBH", 2, 4, s.mss)
        if self.sack:
            opts += b"\x04\x02"
        else:
            opts += b"\x01\x01"
        if self.timestamps:
            opts += struct.pack("!BBII", 8, 10, (s.ts0 + (t - self.t0) // 1000) % MOD32, s.ts_recent)
        else:
            opts += b"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
        opts += b"\x01" + struct.pack("!BBB", 3, 3, s.wscale)
        self._emit("server", t, "SA", 0, options=opts, ack_rel=1)
        self._recv_ts(s, c, t)
        s.nxt = 1
        c.rcv = 1
        t += self.rng.randint(60, 200)
        self._emit("client", t, "A", 1)
        self.last_side = "client"
        self.established = True
        return self

    def _default_start(self, side, delay):
        if delay is not None:
            return self.now + int(delay * 1e6)
        if side == "server":
            if self.last_side == "server":
                return self.now + self._gap()
            return self.now + self.rtt + self.proc + self.rng.randint(0, 800)
        # client: the capture point is at the client, so it reacts at once (+ think time)
        if self.last_side == "client":
            return self.now + self._gap()
        return self.now + self.rng.randint(300, 3000)

    def send(self, side, data, segsize=None, swap=(), dup=(), drop=(), ack="auto", delay=None,
             frag=None, push=True):
        """Send data from side ("client"/"server"), cut into segments.  Returns self."""
        data = bytes(data)
        me, peer = self._sides(side)
        other = "server" if side == "client" else "client"
        size = segsize or peer.mss
        segs = []
        for off in range(0, len(data), size):
            segs.append((me.nxt + off, data[off: off + size]))
        order = list(range(len(segs)))
        for i, j in swap:
            a, b = order.index(i), order.index(j)
            order[a], order[b] = order[b], order[a]
        t = self._default_start(side, delay)
        received = set()
        ack_times = []          # (time, ack rel seq, SACK blocks) of the peer's pure ACKs
        full_since_ack = 0
        sent_end = me.nxt + len(data)
        last_emitted = t
        peer_delay = (lambda: self.rtt) if side == "client" else (lambda: self.rng.randint(30, 120))
        for k, idx in enumerate(order):
            rel, chunk = segs[idx]
            flags = "A" + ("P" if push and (idx == len(segs) - 1 or size < peer.mss) else "")
            had_hole = len(received) > 0 and max(received) + 1 > sum(1 for i in received if i <= max(received))
            if idx not in drop:
                self._emit(side, t, flags, rel, chunk, frag=frag)
            last_emitted = t
            received.add(idx)
            # the peer's view (a dropped segment did reach the peer: capture loss only)
            contiguous = 0
            while contiguous in received:
                contiguous += 1
            rcv_rel = segs[contiguous - 1][0] + len(segs[contiguous - 1][1]) if contiguous else me.nxt
            if max(received) >= contiguous:
                # out-of-order arrival: an immediate duplicate ACK with SACK blocks
                blocks = []
                for i in sorted(received):
                    if i >= contiguous:
                        a, b = segs[i][0], segs[i][0] + len(segs[i][1])
                        if blocks and blocks[-1][1] == a:
                            blocks[-1] = (blocks[-1][0], b)
                        else:
                            blocks.append((a, b))
                if ack:
                    ack_times.append((t + peer_delay(), rcv_rel, blocks))
                full_since_ack = 0
            elif had_hole:
                # the hole is filled: acknowledged at once
                if ack:
                    ack_times.append((t + peer_delay(), rcv_rel, []))
                full_since_ack = 0
            else:
                full_since_ack += 1
                if ack and full_since_ack >= 2:
                    ack_times.append((t + peer_delay(), rcv_rel, []))
                    full_since_ack = 0
                elif ack is True and contiguous == len(segs):
                    ack_times.append((t + (self.rtt if side == "client" else 40000), rcv_rel, []))
                    full_since_ack = 0
            t += self._gap() + len(chunk) // 20
        # retransmissions after the flight (an RTO later)
        rto = max(200000, 2 * self.rtt)
        rt = last_emitted + rto
        for i in dup:
            rel, chunk = segs[i]
            self._emit(side, rt, "AP", rel, chunk, frag=frag)
            ack_times.append((rt + (self.rtt if side == "client" else 40), sent_end,
                              [(rel, rel + len(chunk))] if self.sack else []))
            rt += self._gap()
        me.nxt = sent_end
        peer.rcv = sent_end
        for at, rel, blocks in ack_times:
            self._recv_ts(me, peer, at)
            self._emit(other, at, "A", peer.nxt, ack_rel=rel, sack_blocks=blocks)
        self.last_side = side
        self.now = max([self.now, last_emitted] + [a for a, _, _ in ack_times] + ([rt] if dup else []))
        if ack_times and max(a for a, _, _ in ack_times) == self.now:
            self.last_side = other
        self._recv_ts(me, peer, self.now)
        return self

    def client(self, data, **kw):
        return self.send("client", data, **kw)

    def server(self, data, **kw):
        return self.send("server", data, **kw)

    def segment(self, side, rel_seq, payload=b"", flags="PA", delay=0.0001, ack_rel=None, frag=None):
        """Emit one hand-made segment; rel_seq 0 is the first data byte.  Does not
        advance the side's sequence (use for retransmissions and overlaps)."""
        t = self.now + int(delay * 1e6)
        self._emit(side, t, flags, 1 + rel_seq, payload, ack_rel=ack_rel, frag=frag)
        self.now = max(self.now, t)
        return self

    def close(self, first="client", delay=None):
        """Orderly release: FIN/ACK from `first`, FIN/ACK from the other, last ACK."""
        a, b = self._sides(first)
        other = "server" if first == "client" else "client"
        if delay is not None:
            t = self.now + int(delay * 1e6)
        elif first == "server" and self.last_side == "client":
            t = self.now + self.rtt + self.proc
        else:
            t = self.now + self.rng.randint(200, 2000)
        self._emit(first, t, "FA", a.nxt)
        a.nxt += 1
        b.rcv = a.nxt
        t += self.rtt if first == "client" else self.rng.randint(100, 900)
        self._emit(other, t, "FA", b.nxt)
        b.nxt += 1
        a.rcv = b.nxt
        t += self.rtt if first == "server" else self.rng.randint(60, 200)
        self._emit(first, t, "A", a.nxt)
        self.now = t
        return self

    def reset(self, side="client", delay=None):
        me, _ = self._sides(side)
        t = self.now + (int(delay * 1e6) if delay is not None else self.rng.randint(200, 2000))
        self._emit(side, t, "RA", me.nxt)
        self.now = t
        return self

    @property
    def client_port(self):
        return self.c.h.port


def smtp_lines(*lines):
    """b"line1\\r\\nline2\\r\\n" from str or bytes lines."""
    out = b""
    for ln in lines:
        out += (ln.encode("utf-8") if isinstance(ln, str) else ln) + b"\r\n"
    return out


def reply(code, *texts):
    """A (multi-line) SMTP reply: '250-a', '250-b', '250 c'."""
    out = []
    for k, t in enumerate(texts):
        sep = " " if k == len(texts) - 1 else "-"
        out.append("%d%s%s" % (code, sep, t))
    return smtp_lines(*out)


def dot_stuff(message):
    """RFC 5321 §4.5.2: a line starting with '.' gets another; append CRLF.CRLF."""
    if isinstance(message, str):
        message = message.encode("utf-8")
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")
    lines = [b"." + ln if ln.startswith(b".") else ln for ln in lines]
    return b"\r\n".join(lines) + b".\r\n"


if __name__ == "__main__":
    import sys
    import tempfile
    # self-check: a small capture per link type, checksums verified on read-back
    ok = True
    for lt in (LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
        for cli, srv in ((("192.0.2.1", 40000), ("198.51.100.2", 25)),
                         (("2001:db8::1", 40000), ("2001:db8::2", 25))):
            with tempfile.NamedTemporaryFile(suffix=".pcap") as tf:
                with Pcap(tf.name, lt, seed=1) as pc:
                    t = Tcp(pc, cli, srv, t0=1e9, isn=(MOD32 - 5, None),
                            vlan=[10, 20] if lt == LINKTYPE_ETHERNET else ())
                    t.handshake()
                    t.server(b"220 hi\r\n")
                    t.client(b"x" * 5000, swap=[(1, 2)], dup=[0])
                    t.close()
                _, frames = read_pcap(tf.name)
                print("linktype %3d IPv%d: %d frames" % (lt, ipaddress.ip_address(cli[0]).version, len(frames)))
                ok = ok and len(frames) > 8
    sys.exit(0 if ok else 1)
