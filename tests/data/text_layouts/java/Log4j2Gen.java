import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilderFactory;
import org.apache.logging.log4j.core.config.builder.impl.BuiltConfiguration;

/** java Log4j2Gen PATTERN: the workload's events through log4j2's PatternLayout. */
public final class Log4j2Gen {
    public static void main(String[] args) throws Exception {
        ConfigurationBuilder<BuiltConfiguration> b = ConfigurationBuilderFactory.newConfigurationBuilder();
        b.add(b.newAppender("out", "Console").add(b.newLayout("PatternLayout").addAttribute("pattern", args[0])));
        b.add(b.newRootLogger(Level.DEBUG).add(b.newAppenderRef("out")));
        Configurator.initialize(b.build());
        Workload.run((name, level, msg, err) -> LogManager.getLogger(name).log(Level.getLevel(level), msg, err));
    }
}
