import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** java LogbackGen PATTERN: the workload's events through logback with that encoder pattern. */
public final class LogbackGen {
    public static void main(String[] args) throws Exception {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern(args[0]);
        enc.start();
        ConsoleAppender<ILoggingEvent> out = new ConsoleAppender<>();
        out.setContext(ctx);
        out.setEncoder(enc);
        out.start();
        ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(out);
        root.setLevel(Level.DEBUG);
        Workload.run((name, level, msg, err) -> {
            Logger l = LoggerFactory.getLogger(name);
            switch (level) {
                case "DEBUG": l.debug(msg, err); break;
                case "INFO": l.info(msg, err); break;
                case "WARN": l.warn(msg, err); break;
                default: l.error(msg, err);
            }
        });
    }
}
