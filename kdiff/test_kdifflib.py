"""Unit tests of kdiff's pure parts (no kernel, no root):

    python3 -m unittest discover -s kdiff -p 'test_*.py'
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kdifflib import pkt  # noqa: E402
from kdifflib.kernel import same_packet  # noqa: E402


def captured(p):
    """What a peer's packet socket reads back of a built packet."""
    return pkt.parse(pkt.build(p))


class SamePacket(unittest.TestCase):
    echo = {"src": "203.0.113.1", "dst": "203.0.113.21", "proto": 1, "id": 0x1234,
            "icmp_type": 8, "icmp_code": 0, "icmp_id": 7, "icmp_seq": 3}
    syn = {"src": "198.51.100.2", "dst": "192.0.2.10", "proto": 6, "id": 0x2345,
           "sport": 40000, "dport": 80, "flags": 0x02, "seq": 1, "ack": 0}

    def test_a_natted_packet_is_still_ours(self):
        out = dict(self.syn, src="203.0.113.1", sport=1024)
        self.assertTrue(same_packet(captured(out), self.syn))

    def test_the_hosts_icmp_error_with_one_of_our_ids_is_not_ours(self):
        # Seed big6 case 2446 (legacy): the port unreachable REJECT sent got
        # the IP ID of a packet sent earlier, and was taken for that packet.
        err = {"src": "203.0.113.1", "dst": "203.0.113.21", "proto": 1, "id": 0x1234,
               "icmp_type": 3, "icmp_code": 3, "quote": pkt.build(self.echo)[:28]}
        self.assertFalse(same_packet(captured(err), self.echo))

    def test_the_hosts_rst_with_our_id_is_not_ours(self):
        rst = dict(self.syn, src="192.0.2.10", dst="198.51.100.2", sport=80, dport=40000,
                   flags=0x14, seq=0, ack=2)
        self.assertFalse(same_packet(captured(rst), self.syn))

    def test_another_id_is_not_ours(self):
        self.assertFalse(same_packet(captured(dict(self.syn, id=0x2346)), self.syn))


if __name__ == "__main__":
    unittest.main()
