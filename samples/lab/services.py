"""The lab's processes: the real Nginx, the Java CRM and the vac client.

Every process is started here with ``start_new_session`` (so a Ctrl-C in the
terminal does not hit it before the lab can stop it in order), is asked by the
kernel to die with the lab (``PR_SET_PDEATHSIG``), and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
CRM_DIR = LAB_DIR / "crm"
JAVA_DIR = Path("/usr/share/java")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Debian jars the CRM is compiled and run against, with the package that ships each.
CRM_JARS = {
    "tomcat9-catalina": "libtomcat9-java",
    "tomcat9-coyote": "libtomcat9-java",
    "tomcat9-util": "libtomcat9-java",
    "tomcat9-util-scan": "libtomcat9-java",
    "tomcat9-api": "libtomcat9-java",
    "tomcat9-juli": "libtomcat9-java",
    "tomcat9-servlet-api": "libtomcat9-java",
    "tomcat9-jaspic-api": "libtomcat9-java",
    "tomcat9-annotations-api": "libtomcat9-java",
    "jackson-core": "libjackson2-core-java",
    "jackson-databind": "libjackson2-databind-java",
    "jackson-annotations": "libjackson2-annotations-java",
    "logback-classic": "liblogback-java",
    "logback-core": "liblogback-java",
    "slf4j-api": "libslf4j-java",
    "jul-to-slf4j": "libslf4j-java",
}
CRM_VERSION = "1.8.3"
CRM_MAIN = "com.example.crm.CrmApplication"
# What Debian's tomcat9 start script opens, so Tomcat's leak detection can work on Java 17.
JAVA_OPENS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.rmi/sun.rmi.transport=ALL-UNNAMED",
]


class LabError(RuntimeError):
    pass


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def child_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(p) for p in (task / "children").read_text().split()]
    return children


@dataclass
class Started:
    name: str
    proc: subprocess.Popen
    extra_pids: list[int] = field(default_factory=list)


class ProcessBook:
    """Every process the lab started, so each can be stopped by its PID and accounted for."""

    def __init__(self) -> None:
        self.started: list[Started] = []

    def spawn(self, name: str, argv: list[str], **kwargs) -> Started:
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        entry = Started(name, proc)
        self.started.append(entry)
        return entry

    def pids(self) -> list[dict]:
        rows = []
        for entry in self.started:
            rows.append({"name": entry.name, "pid": entry.proc.pid})
            rows += [{"name": entry.name + " (child)", "pid": pid} for pid in entry.extra_pids]
        return rows

    @staticmethod
    def stop(entry: Started, first: signal.Signals, grace_s: float) -> None:
        proc = entry.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, first)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        deadline = time.monotonic() + 5
        for pid in entry.extra_pids:
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for entry in reversed(self.started):
            grace = {"nginx": 10.0, "crm": 15.0}.get(entry.name, 3.0)
            first = signal.SIGQUIT if entry.name == "nginx" else signal.SIGTERM
            self.stop(entry, first, grace)


# --------------------------------------------------------------------------- CRM


def crm_classpath() -> list[Path]:
    """The Debian jars, by their versioned names where Debian has them, so stack traces name versions."""
    missing = [
        f"{JAVA_DIR}/{jar}.jar ({pkg})" for jar, pkg in CRM_JARS.items() if not (JAVA_DIR / f"{jar}.jar").exists()
    ]
    if missing:
        raise LabError("missing Debian jars: " + ", ".join(missing))
    classpath = []
    for jar in CRM_JARS:
        versioned = sorted(JAVA_DIR.glob(f"{jar}-[0-9]*.jar"))
        classpath.append(versioned[-1] if versioned else JAVA_DIR / f"{jar}.jar")
    return classpath


def jar_version(classpath: list[Path], stem: str) -> str:
    for jar in classpath:
        match = re.fullmatch(re.escape(stem) + r"-([0-9][\w.~+-]*)\.jar", jar.name)
        if match:
            return match.group(1)
    return "unknown"


def build_crm(build_dir: Path) -> Path:
    """Compile the CRM sources with javac and package them as crm-api-VERSION.jar."""
    classpath = crm_classpath()
    classes = build_dir / "classes"
    if classes.exists():
        shutil.rmtree(classes)
    classes.mkdir(parents=True)
    sources = sorted(str(p) for p in (CRM_DIR / "src/main/java").rglob("*.java"))
    javac = [
        shutil.which("javac") or "javac",
        "-encoding",
        "UTF-8",
        "--release",
        "17",
        "-nowarn",
        "-XDsuppressNotes",
        "-d",
        str(classes),
        "-cp",
        os.pathsep.join(map(str, classpath)),
        *sources,
    ]
    result = subprocess.run(javac, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError("javac failed:\n" + result.stdout + result.stderr)
    for resource in (CRM_DIR / "src/main/resources").iterdir():
        shutil.copy2(resource, classes / resource.name)
    manifest = build_dir / "MANIFEST.MF"
    manifest.write_text(
        f"Implementation-Title: crm-api\nImplementation-Version: {CRM_VERSION}\nMain-Class: {CRM_MAIN}\n"
    )
    jar = build_dir / f"crm-api-{CRM_VERSION}.jar"
    result = subprocess.run(
        [
            shutil.which("jar") or "jar",
            "--create",
            "--file",
            str(jar),
            "--manifest",
            str(manifest),
            "-C",
            str(classes),
            ".",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise LabError("jar failed:\n" + result.stdout + result.stderr)
    return jar


class Crm:
    """The Java CRM stand-in (embedded Tomcat 9 + logback + Jackson)."""

    def __init__(
        self,
        book: ProcessBook,
        jar: Path,
        workdir: Path,
        log_file: Path,
        style: int,
        port: int,
        control_port: int,
        timezone: str,
        layout: str | None = None,
    ) -> None:
        """``style`` (2 or 3) is the Spring Boot generation the CRM's messages and MDC imitate;
        ``layout`` names its logback configuration ``logback-LAYOUT.xml`` (default ``boot<style>``)."""
        self.book = book
        self.jar = jar
        self.workdir = workdir
        self.log_file = log_file
        self.style = style
        self.port = port
        self.control_port = control_port
        self.timezone = timezone
        self.layout = layout or f"boot{style}"
        self.entry: Started | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        classpath = [self.jar, *crm_classpath()]
        config = CRM_DIR / "src/main/resources" / f"logback-{self.layout}.xml"
        argv = [
            shutil.which("java") or "java",
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            *JAVA_OPENS,
            f"-Duser.timezone={self.timezone}",
            "-Dfile.encoding=UTF-8",
            "-Djava.awt.headless=true",
            f"-Dlogback.configurationFile={config}",
            f"-DLOG_FILE={self.log_file}",
            "-cp",
            os.pathsep.join(map(str, classpath)),
            CRM_MAIN,
            f"--server.port={self.port}",
            f"--lab.control-port={self.control_port}",
            f"--logging.style={self.style}",
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": self.timezone, "LANG": "C.UTF-8"}
        console = open(self.workdir / "crm-console.log", "ab")
        try:
            self.entry = self.book.spawn(
                "crm",
                argv,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        finally:
            console.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.entry.proc.poll() is not None:
                raise LabError(f"CRM exited with {self.entry.proc.returncode}; see crm-console.log")
            if self.control("ready", quiet=True) == "ready":
                return
            time.sleep(0.05)
        raise LabError("CRM did not become ready in time")

    def stop(self) -> None:
        if self.entry is not None:
            ProcessBook.stop(self.entry, signal.SIGTERM, 15.0)
            deadline = time.monotonic() + 5
            while port_open(self.port) and time.monotonic() < deadline:
                time.sleep(0.02)
            if port_open(self.port):
                raise LabError("CRM port still open after stop")

    def control(self, action: str, quiet: bool = False) -> str:
        url = f"http://127.0.0.1:{self.control_port}/lab/{action}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read().decode().strip()
        except OSError:
            if quiet:
                return ""
            raise


# --------------------------------------------------------------------------- nginx


def nginx_version() -> str:
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    match = re.search(r"nginx/(\S+)", result.stderr + result.stdout)
    return match.group(1) if match else "unknown"


class Nginx:
    def __init__(
        self,
        book: ProcessBook,
        prefix: Path,
        port: int,
        crm_port: int,
        access_logs: list[tuple[Path, str]],
        error_log: Path,
        timezone: str,
        error_level: str = "info",
    ) -> None:
        """``access_logs``: (file, log_format name) pairs, each an ``access_log`` of the server;
        ``error_level``: the level of ``error_log`` (nginx's default is ``error``)."""
        self.book = book
        self.prefix = prefix
        self.port = port
        self.crm_port = crm_port
        self.access_logs = access_logs
        self.error_log = error_log
        self.timezone = timezone
        self.error_level = error_level
        self.entry: Started | None = None

    def write_config(self) -> Path:
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / sub).mkdir(parents=True, exist_ok=True)
        # Run as root, the master hands the workers to an unprivileged user; as anyone else nginx
        # keeps its own user and the directive would only draw a warning.
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        text = (LAB_DIR / "nginx.conf.in").read_text()
        for key, value in {
            "USER": user,
            "PREFIX": str(self.prefix),
            "ERROR_LOG": str(self.error_log),
            "ERROR_LEVEL": self.error_level,
            "ACCESS_LOGS": "\n".join(f"    access_log  {path}  {fmt};" for path, fmt in self.access_logs),
            "CRM_PORT": str(self.crm_port),
            "PORT": str(self.port),
        }.items():
            text = text.replace(f"@{key}@", value)
        conf = self.prefix / "nginx.conf"
        conf.write_text(text)
        return conf

    def start(self, timeout_s: float = 15.0) -> None:
        conf = self.write_config()
        argv = [
            NGINX,
            "-p",
            str(self.prefix),
            "-c",
            str(conf),
            "-e",
            str(self.error_log),
            "-g",
            "daemon off;",
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": self.timezone}
        console = open(self.prefix / "nginx-console.log", "ab")
        try:
            self.entry = self.book.spawn(
                "nginx",
                argv,
                cwd=self.prefix,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        finally:
            console.close()
        # Ready once the master has written its pid file (its listening socket is open by then) and
        # forked the worker; probing the port would leave a connection in the error log.
        pid_file = self.prefix / "nginx.pid"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.entry.proc.poll() is not None:
                raise LabError(f"nginx exited with {self.entry.proc.returncode}; see its error log")
            workers = child_pids(self.entry.proc.pid)
            if pid_file.exists() and workers:
                self.entry.extra_pids = workers
                time.sleep(0.1)
                return
            time.sleep(0.05)
        raise LabError("nginx did not start listening in time")

    def stop(self) -> None:
        if self.entry is not None:
            ProcessBook.stop(self.entry, signal.SIGQUIT, 10.0)


# --------------------------------------------------------------------------- vac


def start_vac(book: ProcessBook, config_path: Path, workdir: Path, script: str = "vac.py", tz: str = "UTC") -> Started:
    """Start a client (``vac.py`` or ``clients.py``) with its config; ``tz`` is its host's zone."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TZ": tz,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    console = open(workdir / "vac-console.log", "ab")
    try:
        return book.spawn(
            "vac",
            [sys.executable, str(LAB_DIR / script), "--config", str(config_path)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
        )
    finally:
        console.close()
