"""Stack traces in continuation lines: where they start, and the exceptions they name.

Java (logback's ``ThrowableProxyConverter`` layout, and the JDK's ``printStackTrace``)::

    com.example.Outer: message            <- top exception
    \\tat com.example.A.b(A.java:12)
    Caused by: com.example.Inner: msg     <- the last "Caused by:" is the root cause
                                             (root cause first, "%rEx": the first exception is the
                                             root cause and the last "Wrapped by:" the one thrown)
    \\t... 42 common frames omitted         (logback; the JDK writes "... 3 more")

Python: ``Traceback (most recent call last):`` ... ``ValueError: message``; in a chain the
first exception is the root cause and the last one the exception raised.
"""

from __future__ import annotations

import polars as pl

JAVA_HEADER = (
    r"^(?P<prefix>Caused by: |Wrapped by: |\s+Suppressed: |Exception in thread \"[^\"]*\" )?"
    r"(?P<cls>(?:[a-z_$][\w$]*\.)+[A-Z_$][\w$]*)(?::\s?(?P<msg>.*)|\s*$)"
)
# "\tat pkg.Class.method(File.java:12)", not Jackson's " at [Source: ...]" message line.
JAVA_FRAME = r"^\s+(?:at \S+\(|\.\.\. \d+ (?:more|common frames omitted))"
PYTHON_START = r"^(?:Traceback \(most recent call last\):|\s+File \")"
# The unindented "module.ExceptionClass: message" line that ends a traceback.
PYTHON_HEADER = r"^(?P<prefix>)(?P<cls>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*)|\s*$)"
# Node.js (``err.stack``, pino's "caused by:" chain): "TypeError: msg" over "    at fn (file.js:1:2)".
JS_HEADER = r"^(?P<prefix>caused by: )?(?P<cls>[A-Za-z_$][\w$]*)(?::\s?(?P<msg>.*)|\s*$)"
JS_FRAME = r"^\s+at \S"
JS_TRACE = r"(?m)^\s+at .*:\d+:\d+\)?$"
# Lines that end a Python exception's message: frames, and the sentences that join a chain.
PYTHON_BREAK = (r"^(?:\s|Traceback \(most recent call last\):|During handling of the above exception"
                r"|The above exception was the direct cause)")
_COLUMNS = ["exception", "exception_message", "root_cause", "root_cause_message"]


def _java_entries(cont: pl.DataFrame) -> pl.Expr:
    """Per line: its entry's continuation has a Java frame (for layouts any language may write)."""
    return pl.col("text").str.contains(JAVA_FRAME).any().over("_entry")


def mark_trace(cont: pl.DataFrame, mode: str) -> pl.DataFrame:
    """Add ``_trace``: the line belongs to the entry's stack trace rather than its message.

    ``mode`` ``any`` (a layout Java, Python and Go programs alike write) reads each entry's trace as
    Java when it has a Java frame, else as Python.
    """
    text = pl.col("text")
    java = text.str.contains(JAVA_HEADER) | text.str.contains(JAVA_FRAME)
    python = text.str.contains(PYTHON_START)
    if mode == "java":
        starts = java
    elif mode == "any":
        starts = pl.when(_java_entries(cont)).then(java).otherwise(python)
    else:
        starts = python
    return cont.with_columns((starts.cast(pl.Int32).cum_sum().over("_entry") > 0).alias("_trace"))


def exceptions(cont: pl.DataFrame, mode: str) -> pl.DataFrame:
    """One row per entry with a trace: top exception and root cause, class and message."""
    if mode == "any":
        split = cont.with_columns(_java_entries(cont).alias("__java"))
        parts = [exceptions(split.filter(pl.col("__java")).drop("__java"), "java"),
                 exceptions(split.filter(~pl.col("__java")).drop("__java"), "python")]
        return pl.concat(parts, how="vertical_relaxed")
    trace = cont.filter(pl.col("_trace"))
    if trace.height == 0:
        return pl.DataFrame(schema={"_entry": cont.schema["_entry"], **dict.fromkeys(_COLUMNS, pl.String)})
    header_rx = {"java": JAVA_HEADER, "python": PYTHON_HEADER, "js": JS_HEADER}[mode]
    frame_rx = {"java": JAVA_FRAME, "python": PYTHON_BREAK, "js": JS_FRAME}[mode]
    text = pl.col("text")
    trace = trace.with_columns(
        text.str.contains(header_rx).alias("_hdr"),
        text.str.contains(frame_rx).alias("_frame"),
    ).with_columns(pl.col("_hdr").cast(pl.Int32).cum_sum().over("_entry").alias("_seq"))
    trace = trace.with_columns(
        (pl.col("_frame").cast(pl.Int32).cum_sum().over(["_entry", "_seq"]) > 0).alias("_after_frame")
    )
    # A message may continue below its header (Jackson's " at [Source: ...; line: 9, column: 2]").
    extra = (
        trace.filter(~pl.col("_hdr") & ~pl.col("_frame") & ~pl.col("_after_frame") & (pl.col("_seq") > 0)
                     & (text.str.strip_chars() != ""))
        .group_by(["_entry", "_seq"]).agg(text.str.strip_chars().str.join("\n").alias("_more"))
    )
    headers = (
        trace.filter(pl.col("_hdr"))
        .with_columns(text.str.extract_groups(header_rx).alias("_h")).unnest("_h")
        .filter(~pl.col("prefix").fill_null("").str.contains("Suppressed"))
        .join(extra, on=["_entry", "_seq"], how="left")
        .with_columns(
            pl.when(pl.col("_more").is_not_null())
            .then(pl.concat_str([pl.col("msg").fill_null(""), pl.col("_more")], separator="\n").str.strip_chars())
            .otherwise(pl.col("msg")).alias("msg")
        )
        .sort(["_entry", "line"])
    )
    if mode in ("java", "js"):
        prefix = pl.col("prefix").fill_null("").str.to_lowercase()
        top = headers.group_by("_entry").first()
        root = headers.filter(prefix.str.starts_with("caused by")).group_by("_entry").last()
        wrapped = headers.filter(prefix.str.starts_with("wrapped by"))
        if wrapped.height:
            # Root cause first (logback's %rEx, logstash-logback-encoder's rootCauseFirst): the first
            # exception is the root cause, the last "Wrapped by:" the one thrown.
            outer = wrapped.group_by("_entry").last()
            ids = outer.select("_entry")
            root = pl.concat([root.join(ids, on="_entry", how="anti"), top.join(ids, on="_entry", how="semi")])
            top = pl.concat([top.join(ids, on="_entry", how="anti"), outer.select(top.columns)])
    else:
        top = headers.group_by("_entry").last()
        root = headers.group_by("_entry").first()
    out = top.select("_entry", pl.col("cls").alias("exception"), pl.col("msg").alias("exception_message"))
    out = out.join(
        root.select("_entry", pl.col("cls").alias("root_cause"), pl.col("msg").alias("root_cause_message")),
        on="_entry", how="left",
    ).with_columns(
        pl.coalesce("root_cause", "exception").alias("root_cause"),
        pl.when(pl.col("root_cause").is_null()).then(pl.col("exception_message"))
        .otherwise(pl.col("root_cause_message")).alias("root_cause_message"),
    )
    return out


def fill_exceptions(entries: pl.DataFrame) -> pl.DataFrame:
    """Fill the exception columns of structured entries from their ``stack_trace`` text where keys left them empty.

    JSON layouts may name the exception (ECS ``error.type``/``error.message``, GELF ``_error_type``),
    the root cause (logstash-logback-encoder's ``throwable_root_cause_class``), or give only the
    trace (logstash ``stack_trace``, python-json-logger ``exc_info``). What a key says wins; what the
    trace says fills the rest, read with the same rules as a trace in continuation lines (Java:
    the last ``Caused by:``; Python: the first exception of a chain; Node.js: the last ``caused by:``).
    The root cause defaults to the exception itself. Entries with none of these columns are returned as they are.
    """
    if not any(c in entries.columns for c in (*_COLUMNS, "stack_trace")):
        return entries
    for name in (*_COLUMNS, "stack_trace"):
        if name not in entries.columns:
            entries = entries.with_columns(pl.lit(None, pl.String).alias(name))
    traces = entries.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_entry"), pl.col("stack_trace").alias("text"))
    traces = traces.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    if traces.height:
        text = pl.col("text")
        mode = (pl.when(text.str.contains(r"(?m)^Traceback \(most recent call last\):")).then(pl.lit("python"))
                .when(text.str.contains(JS_TRACE)).then(pl.lit("js")).otherwise(pl.lit("java")))
        traces = traces.with_columns(mode.alias("_mode")).with_columns(text.str.split("\n")).explode("text")
        traces = traces.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("line"), pl.lit(True).alias("_trace"))
        found = pl.concat([exceptions(traces.filter(pl.col("_mode") == m), m) for m in ("java", "python", "js")])
        found = found.rename({c: f"_t_{c}" for c in _COLUMNS})
        entries = entries.with_row_index("_entry").with_columns(pl.col("_entry").cast(pl.Int64))
        entries = entries.join(found, on="_entry", how="left", maintain_order="left").drop("_entry")
    else:
        entries = entries.with_columns(pl.lit(None, pl.String).alias(f"_t_{c}") for c in _COLUMNS)
    col = pl.col
    exc = pl.coalesce("exception", "_t_exception")
    # A message read from the trace belongs to the exception named there, not to another one.
    same = col("exception").is_null() | (col("exception") == col("_t_exception"))
    exc_msg = pl.coalesce(col("exception_message"), pl.when(same).then(col("_t_exception_message")))
    root = pl.coalesce("root_cause", "_t_root_cause")
    root_msg = (
        pl.when(col("root_cause").is_not_null()).then(col("root_cause_message"))
        .when(col("_t_root_cause").is_not_null() & (col("_t_root_cause") != col("_t_exception")))
        .then(col("_t_root_cause_message"))
    )
    entries = entries.with_columns(exc.alias("exception"), exc_msg.alias("exception_message"),
                                   root.alias("_root"), root_msg.alias("_root_msg"))
    # A trace that names no cause: the exception is its own root cause.
    no_cause = col("_root").is_null() | ((col("_root") == col("_t_exception")) & col("root_cause").is_null())
    return entries.with_columns(
        pl.when(no_cause).then(col("exception")).otherwise(col("_root")).alias("root_cause"),
        pl.when(no_cause).then(col("exception_message")).otherwise(col("_root_msg")).alias("root_cause_message"),
    ).drop("_root", "_root_msg", *[f"_t_{c}" for c in _COLUMNS])
