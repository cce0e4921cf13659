"""What every test server in Fixtures/ does: exit when the test process that started it dies
(it would hold the test's output open), and announce its port once it listens."""
import os, threading, time


def exit_with_parent():
    def watch():
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


def announce_port(port_file, port):
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)
