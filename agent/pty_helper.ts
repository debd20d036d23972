/**
 * Terminals for `exec -t`. Deno has no pty API, so a small Python program (python3's `pty`
 * module) runs the command on a new pseudo-terminal: it is the session leader with the
 * terminal as its controlling tty, and the helper copies the terminal's output to its own
 * stdout. The helper's stdin carries frames `[type (1 byte)][length (4 bytes, big endian)]
 * [payload]`: type 0 input for the terminal, 4 a new size (cols, rows as two big-endian
 * uint16; the program gets SIGWINCH), 5 end of input (^D to the terminal). The helper exits
 * with the command's exit code (128 + n when signal n ended it).
 */

/** The Python program; argv: cols rows program [args...]. */
export const PTY_HELPER = `
import errno, fcntl, os, select, struct, sys, termios
cols, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = os.forkpty()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("exec %s: %s\\r\\n" % (argv[0], e.strerror)).encode())
        os._exit(127 if e.errno == errno.ENOENT else 126)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
buf, stdin_open, status = b"", True, None
def write_all(data):
    while data:
        data = data[os.write(fd, data):]
while True:
    if status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    fds = [fd] + ([0] if stdin_open and status is None else [])
    r, _, _ = select.select(fds, [], [], 0.05 if status is not None else 0.2)
    if fd in r:
        try:
            out = os.read(fd, 65536)
        except OSError:
            out = b""
        if not out:
            break
        os.write(1, out)
    elif status is not None:
        break
    if 0 in r:
        data = os.read(0, 65536)
        if not data:
            stdin_open = False
        buf += data
        while len(buf) >= 5:
            kind, size = buf[0], struct.unpack(">I", buf[1:5])[0]
            if len(buf) < 5 + size:
                break
            payload, buf = buf[5:5 + size], buf[5 + size:]
            if kind == 0:
                write_all(payload)
            elif kind == 4 and size == 4:
                c, rw = struct.unpack(">HH", payload)
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rw, c, 0, 0))
            elif kind == 5:
                write_all(b"\\x04")
if status is None:
    status = os.waitpid(pid, 0)[1]
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
`;

/** Frame types of the helper's stdin. */
export const PTY_INPUT = 0;
export const PTY_RESIZE = 4;
export const PTY_EOF = 5;

/** One frame for the helper's stdin. */
export function ptyFrame(type: number, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = type;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return frame;
}

/** The resize frame for the helper. */
export function ptyResize(cols: number, rows: number): Uint8Array {
  const payload = new Uint8Array(4);
  const view = new DataView(payload.buffer);
  view.setUint16(0, cols);
  view.setUint16(2, rows);
  return ptyFrame(PTY_RESIZE, payload);
}

/** The argv that runs `argv` on a new terminal of the given size. */
export function ptyArgv(python: string, argv: string[], cols = 80, rows = 24): string[] {
  return [python, "-c", PTY_HELPER, String(cols), String(rows), ...argv];
}
