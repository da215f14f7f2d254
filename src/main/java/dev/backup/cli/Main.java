package dev.backup.cli;

import dev.backup.cluster.Clustering;
import dev.backup.config.Config;
import dev.backup.config.ConfigLoader;
import dev.backup.config.Role;
import dev.backup.manager.ManagerVerticle;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.server.ServerVerticle;
import io.vertx.core.Vertx;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The one entry point: {@code java -jar backup.jar --role=manager|server|client ...}. */
@Command(name = "backup.jar", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"A distributed file-backup system with replication.",
        "Every option can also come from BACKUP_<OPTION> environment variables and the configuration file."},
    footer = {"", "Client commands (one-shot, or typed in the REPL started by --role=client alone):",
        "  backup PATH... [--replicas R]          restore PATH... [--version V] [--to PATH] [--force]",
        "  list [--json]   status [--json]        replicas PATH R",
        "  delete PATH... [--version V]           verify [PATH...] [--local]      files",
        "", "Users (on the manager's host): --role=manager users add NAME | list | remove NAME"})
public final class Main implements Callable<Integer> {

  @Option(names = "--role", paramLabel = "ROLE",
      description = "manager, server or client (required; or BACKUP_ROLE, or role= in the configuration file)")
  Role role;

  @Option(names = "--id", paramLabel = "N", description = "server id (server role), N >= 1")
  Integer id;

  @Option(names = "--host", paramLabel = "ADDR", description = "address to bind and advertise (default 127.0.0.1)")
  String host;

  @Option(names = "--port", paramLabel = "P", description = "TCP port (manager 7000, server N 7000+N)")
  Integer port;

  @Option(names = "--cluster-port", paramLabel = "P", description = "Hazelcast member port (default 5701, next free)")
  Integer clusterPort;

  @Option(names = "--members", paramLabel = "H[:P],...", description = "cluster members to join through (default 127.0.0.1)")
  String members;

  @Option(names = "--cluster-name", paramLabel = "NAME", description = "cluster name (default backup)")
  String clusterName;

  @Option(names = "--manager", paramLabel = "HOST:PORT", description = "(client) where the manager is (default 127.0.0.1:7000)")
  String manager;

  @Option(names = "--user", paramLabel = "NAME", description = "(client) the user to act as (default: the OS user)")
  String user;

  @Option(names = "--secret-file", paramLabel = "FILE",
      description = "(client) file holding the user's secret (or BACKUP_SECRET; never on the command line)")
  String secretFile;

  @Option(names = "--root", paramLabel = "DIR", description = "this element's root folder (default roots/<role>)")
  String root;

  @Option(names = "--tls", paramLabel = "true|false", arity = "0..1", fallbackValue = "true",
      description = "TLS on every connection (default false)")
  String tls;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "this element's certificate (chain), PEM")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "this element's private key, PEM")
  String tlsKey;

  @Option(names = "--tls-ca", paramLabel = "PEM", description = "the certificate authority to trust, PEM")
  String tlsCa;

  @Option(names = "--conf", paramLabel = "FILE", description = "configuration file (default conf/backup.properties)")
  String conf;

  @Option(names = "--verbose", scope = ScopeType.INHERIT, description = "show the full error on failure")
  boolean verbose;

  final ClientSession session = new ClientSession(this::config);

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  picocli.CommandLine.Model.CommandSpec spec() {
    return spec;
  }
  private final Map<String, String> env;

  Main(Map<String, String> env) {
    this.env = env;
  }

  Config config() {
    Map<String, String> flags = new HashMap<>();
    flags.put("role", role == null ? null : role.name());
    flags.put("id", id == null ? null : id.toString());
    flags.put("host", host);
    flags.put("port", port == null ? null : port.toString());
    flags.put("cluster-port", clusterPort == null ? null : clusterPort.toString());
    flags.put("members", members);
    flags.put("cluster-name", clusterName);
    flags.put("manager", manager);
    flags.put("root", root);
    flags.put("user", user);
    flags.put("secret-file", secretFile);
    flags.put("conf", conf);
    flags.put("tls", tls);
    flags.put("tls-cert", tlsCert);
    flags.put("tls-key", tlsKey);
    flags.put("tls-ca", tlsCa);
    return new ConfigLoader(flags, env).load();
  }

  @Override
  public Integer call() throws Exception {
    Config c = config();
    return switch (c.role()) {
      case manager, server -> runDaemon(c);
      case client -> new Repl(session, () -> verbose).run();
    };
  }

  private int runDaemon(Config c) throws InterruptedException {
    org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Main.class);
    if (c.secretIsDefault()) {
      log.warn("using the default cluster secret: set 'secret' in the configuration (or BACKUP_SECRET) for real use");
    }
    Clustering.Clustered cl = Clustering.start(c).await();
    Vertx vertx = cl.vertx();
    cl.hazelcast().getLifecycleService().addLifecycleListener(new dev.backup.cluster.MergeWatchdog(vertx,
        c.role() == Role.manager ? "manager" : "server " + c.id(), dev.backup.cluster.MergeWatchdog.LIMIT_MILLIS,
        dev.backup.cluster.MergeWatchdog::exitProcess));
    CountDownLatch stopped = new CountDownLatch(1);
    try {
      if (c.role() == Role.manager) {
        vertx.deployVerticle(new ManagerVerticle(c, cl.hazelcast(),
            cl.clusterManager()::refresh)).await();
        log.info("manager ready on {}:{}{}", c.host(), c.port(), c.tls() ? " (TLS, " + dev.backup.config.Tls.engineName() + ")" : "");
      } else {
        vertx.deployVerticle(new ServerVerticle(c, cl.clusterManager()::getNodeId)).await();
        log.info("server {} ready on {}:{}{}", c.id(), c.host(), c.port(), c.tls() ? " (TLS, " + dev.backup.config.Tls.engineName() + ")" : "");
      }
    } catch (RuntimeException e) {
      vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .exceptionally(x -> null).join();
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("{} stopping", c.role() == Role.manager ? "manager" : "server " + c.id());
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.warn("stopping took too long: {}", e.toString());
      }
      stopped.countDown();
    }, "backup-shutdown"));
    stopped.await();
    return 0;
  }

  /** The command line of one run: the role options and the client commands. */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err, Map<String, String> env) {
    Main main = new Main(env);
    CommandLine cmd = new CommandLine(main);
    ClientSession s = main.session;
    ClientCommands.addAll(cmd, s);
    cmd.addSubcommand(new HealthCommand());
    cmd.addSubcommand(new UsersCommand(main::config));
    cmd.setOut(out);
    cmd.setErr(err);
    Errors.install(cmd, () -> main.verbose);
    return cmd;
  }

  public static void main(String[] args) {
    configureLogging(args, System.getenv());
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    CommandLine cmd = commandLine(out, err, System.getenv());
    Main main = cmd.getCommand();
    Thread abort = new Thread(main.session::abortNow, "backup-client-abort");
    Runtime.getRuntime().addShutdownHook(abort);
    int code = cmd.execute(args);
    try {
      Runtime.getRuntime().removeShutdownHook(abort);
    } catch (IllegalStateException shuttingDown) {
      // already on the way out
    }
    main.session.close();
    out.flush();
    err.flush();
    System.exit(code);
  }

  /** Servers and the manager log at info; the client only warns. Decided before any logger exists. */
  private static void configureLogging(String[] args, Map<String, String> env) {
    String role = env.getOrDefault("BACKUP_ROLE", "");
    for (int i = 0; i < args.length; i++) {
      if (args[i].startsWith("--role=")) {
        role = args[i].substring(7);
      } else if (args[i].equals("--role") && i + 1 < args.length) {
        role = args[i + 1];
      }
    }
    boolean daemon = role.equals("manager") || role.equals("server");
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", daemon ? "info" : "warn");
    }
    // Resolve names the way the rest of the system does (/etc/hosts, the platform's
    // resolver): container service names resolve reliably that way.
    if (System.getProperty("vertx.disableDnsResolver") == null) {
      System.setProperty("vertx.disableDnsResolver", "true");
    }
  }

  /** The version, from the build. */
  public static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      Properties p = new Properties();
      try (InputStream in = Main.class.getResourceAsStream("/backup-version.properties")) {
        if (in != null) {
          p.load(in);
        }
      } catch (java.io.IOException ignored) {
        // fall through to "unknown"
      }
      return new String[] {"backup " + p.getProperty("version", "unknown")
          + " (Vert.x 5, Hazelcast, Java " + System.getProperty("java.version") + ")"};
    }
  }
}
