"""Small raw-socket SMTP client for conversation tests."""
import socket
import time


class Raw:
    """A line-oriented SMTP client that sends exactly the bytes given."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.s = socket.create_connection((host, port), timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def reply(self, timeout=10):
        """Read one (possibly multi-line) reply; returns (code, [lines])."""
        lines = []
        end = time.time() + timeout
        while True:
            while b"\r\n" not in self.buf:
                self.s.settimeout(max(0.05, end - time.time()))
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line, code, text=None):
        c, lines = self.cmd(line)
        assert c == code, (line, lines)
        if text is not None:
            assert lines[-1] == text, (line, lines)
        return lines

    def closed(self, timeout=5):
        """True if the server closes the connection (after any pending data)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()
