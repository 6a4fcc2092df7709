import org.apache.log4j.ConsoleAppender;
import org.apache.log4j.Level;
import org.apache.log4j.Logger;
import org.apache.log4j.PatternLayout;

/** java Log4j1Gen PATTERN: the workload's events through log4j 1.2's PatternLayout. */
public final class Log4j1Gen {
    public static void main(String[] args) throws Exception {
        Logger root = Logger.getRootLogger();
        root.addAppender(new ConsoleAppender(new PatternLayout(args[0])));
        root.setLevel(Level.DEBUG);
        Workload.run((name, level, msg, err) -> Logger.getLogger(name).log(Level.toLevel(level), msg, err));
    }
}
