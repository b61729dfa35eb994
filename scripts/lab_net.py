"""Byte-level helpers the lab's raw-packet scripts share (lab-junk.py,
lab-vrrp-advert.py, lab-frags.py): the Internet checksum and MAC address
parsing. Imported from the scripts' own directory, which Python puts
first on the module path. Standard library only (Python 3.11).
"""

import struct


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (one's complement of the one's
    complement sum of 16-bit words, an odd byte padded with zero)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac(text: str) -> bytes:
    """"02:00:00:00:00:01" as six bytes."""
    return bytes(int(b, 16) for b in text.split(":"))
