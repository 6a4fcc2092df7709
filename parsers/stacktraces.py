"""Stack traces in continuation lines: where they start, and the exceptions they name.

Java (logback's ``ThrowableProxyConverter`` layout, and the JDK's ``printStackTrace``)::

    com.example.Outer: message            <- top exception
    \\tat com.example.A.b(A.java:12)
    Caused by: com.example.Inner: msg     <- the last "Caused by:" is the root cause
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
_COLUMNS = ["exception", "exception_message", "root_cause", "root_cause_message"]


def mark_trace(cont: pl.DataFrame, mode: str) -> pl.DataFrame:
    """Add ``_trace``: the line belongs to the entry's stack trace rather than its message."""
    text = pl.col("text")
    if mode == "java":
        starts = text.str.contains(JAVA_HEADER) | text.str.contains(JAVA_FRAME)
    else:
        starts = text.str.contains(PYTHON_START)
    return cont.with_columns((starts.cast(pl.Int32).cum_sum().over("_entry") > 0).alias("_trace"))


def exceptions(cont: pl.DataFrame, mode: str) -> pl.DataFrame:
    """One row per entry with a trace: top exception and root cause, class and message."""
    trace = cont.filter(pl.col("_trace"))
    if trace.height == 0:
        return pl.DataFrame(schema={"_entry": cont.schema["_entry"], **dict.fromkeys(_COLUMNS, pl.String)})
    header_rx = JAVA_HEADER if mode == "java" else PYTHON_HEADER
    frame_rx = JAVA_FRAME if mode == "java" else r"^\s"
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
    if mode == "java":
        top = headers.group_by("_entry").first()
        causes = headers.filter(pl.col("prefix").fill_null("").str.starts_with("Caused by"))
        root = causes.group_by("_entry").last()
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
