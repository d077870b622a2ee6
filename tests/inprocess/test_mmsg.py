"""Batched datagrams (exposcan.net.mmsg) over real loopback UDP sockets."""

from __future__ import annotations

import socket
import sys

import pytest

from exposcan.net.mmsg import open_batch, sockaddr

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="sendmmsg/recvmmsg are Linux's")


@linux_only
@pytest.mark.parametrize(
    ("family", "loopback"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_one_call_sends_a_batch_and_one_call_reads_it(
    family: socket.AddressFamily, loopback: str
) -> None:
    # Given a sender and a receiver on loopback, each with a batch
    receiver = socket.socket(family, socket.SOCK_DGRAM)
    receiver.bind((loopback, 0))
    receiver.setblocking(False)
    sender = socket.socket(family, socket.SOCK_DGRAM)
    try:
        out = open_batch(sender, 8, 4)
        inbox = open_batch(receiver, 8, 16)
        assert out is not None and inbox is not None
        # When three 4-byte datagrams are put in the batch and sent at once
        name = sockaddr(loopback, receiver.getsockname()[1])
        for i, word in enumerate((b"abcd", b"efgh", b"ijkl")):
            out.put(i, word, name)
        assert out.send(3) == 3
        # Then one read gets the three, in order, each with its length
        assert inbox.recv() == 3
        got = [bytes(inbox.view[i * 16 : i * 16 + inbox.length(i)]) for i in range(3)]
        assert got == [b"abcd", b"efgh", b"ijkl"]
        # And an empty queue reads as nothing, without waiting
        assert inbox.recv() == 0
    finally:
        sender.close()
        receiver.close()


@linux_only
def test_a_refused_datagram_is_an_errno_not_an_exception() -> None:
    # Given a batch whose first datagram goes where no route leads
    # (IPv4 broadcast without SO_BROADCAST: EACCES)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        out = open_batch(sender, 2, 4)
        assert out is not None
        out.put(0, b"abcd", sockaddr("255.255.255.255", 9))
        # Then sending it says which error, as a negative count
        assert out.send(1) < 0
    finally:
        sender.close()
