package dev.backup.e2e;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A manager and storage servers started from the real jar as separate JVMs on loopback,
 * each with its own root under one temporary folder and its own ports, in a cluster of
 * their own. {@link #close()} stops every process it started.
 */
final class ClusterProcesses implements AutoCloseable {
  static final Path JAR = Path.of(System.getProperty("backup.jar", "target/backup.jar")).toAbsolutePath();

  final Path dir;
  final String clusterName = "it-" + UUID.randomUUID();
  final int managerPort;
  final int clusterPort;
  final String secret = "it-secret-" + UUID.randomUUID();
  private Process manager;
  private final Map<Integer, Process> servers = new HashMap<>();
  private final Map<Integer, Integer> serverPorts = new HashMap<>();
  private final List<Process> all = new ArrayList<>();
  /** Extra environment for the manager and servers (configuration through BACKUP_*). */
  final Map<String, String> env = new HashMap<>();

  private ClusterProcesses(Path dir) {
    this.dir = dir;
    this.managerPort = dev.backup.TestSupport.freePort();
    // (Hazelcast takes the next ports up when one is taken: 30000-32699 stays clear of the
    // elements' ports, 20000-29999, and of the system's ephemeral ports, 32768 and up.)
    this.clusterPort = 30000 + (int) (Math.random() * 2600);
  }

  static ClusterProcesses start(Path dir, int nServers) throws Exception {
    return start(dir, nServers, Map.of());
  }

  static ClusterProcesses start(Path dir, int nServers, Map<String, String> env) throws Exception {
    ClusterProcesses c = new ClusterProcesses(dir);
    c.env.putAll(env);
    try {
      c.startManager();
      for (int id = 1; id <= nServers; id++) {
        c.startServer(id);
      }
      c.awaitAlive(nServers, Duration.ofSeconds(60));
      return c;
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
  }

  Path root(String element) {
    return dir.resolve(element);
  }

  Path serverRoot(int id) {
    return root("server-" + id);
  }

  Path clientRoot() {
    return root("client");
  }

  private List<String> common(String role) {
    List<String> cmd = launcher();
    cmd.addAll(List.of("--role=" + role, "--cluster-name", clusterName,
        "--cluster-port", String.valueOf(clusterPort), "--members", "127.0.0.1:" + clusterPort));
    return cmd;
  }

  /**
   * The start of a command line for the jar: through {@code bin/backup}, the launcher users
   * get, which keeps a class-data archive per role (here in target/) so that every JVM
   * after the first of its role starts faster; there are a few hundred in a run.
   */
  private static List<String> launcher() {
    return new ArrayList<>(List.of(LAUNCHER.toString()));
  }

  static final Path LAUNCHER = Path.of("bin", "backup").toAbsolutePath();

  /** What the launcher is told: this jar, its archives' folder, this JVM's settings. */
  private static void launcherEnv(Map<String, String> env) {
    env.put("BACKUP_JAR", JAR.toString());
    env.put("BACKUP_CDS_DIR", JAR.resolveSibling("cds").toString());
    env.put("JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC");
    env.put("PATH", Path.of(javaBin()).getParent() + ":" + env.getOrDefault("PATH", "/usr/bin:/bin"));
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  void startManager() throws IOException {
    List<String> cmd = common("manager");
    cmd.addAll(List.of("--port", String.valueOf(managerPort), "--root", root("manager").toString()));
    manager = launch(cmd, "manager");
  }

  void startServer(int id) throws IOException {
    int port = serverPorts.computeIfAbsent(id, x -> dev.backup.TestSupport.freePort());
    List<String> cmd = common("server");
    cmd.addAll(List.of("--id=" + id, "--port", String.valueOf(port), "--root", serverRoot(id).toString()));
    servers.put(id, launch(cmd, "server-" + id));
  }

  /** Starts again any server that is not running and waits until all are alive. */
  void ensureAllServersRunning(int n) throws Exception {
    boolean started = false;
    for (int id = 1; id <= n; id++) {
      Process p = servers.get(id);
      if (p == null || !p.isAlive()) {
        startServer(id);
        started = true;
      }
    }
    if (started) {
      awaitAlive(n, Duration.ofSeconds(60));
    }
  }

  int serverPort(int id) {
    return serverPorts.get(id);
  }

  private Process launch(List<String> cmd, String name) throws IOException {
    Files.createDirectories(dir.resolve("logs"));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("logs").resolve(name + ".log").toFile()));
    pb.environment().put("BACKUP_SECRET", secret);
    launcherEnv(pb.environment());
    pb.environment().putAll(env);
    pb.environment().remove("BACKUP_ROLE");
    Process p = pb.start();
    all.add(p);
    return p;
  }

  /** kill -9 */
  void killServer(int id) throws InterruptedException {
    Process p = servers.remove(id);
    p.destroyForcibly();
    p.waitFor(10, TimeUnit.SECONDS);
  }

  /** kill -9 of every server and the manager. */
  void killAll() throws InterruptedException {
    for (int id : List.copyOf(servers.keySet())) {
      killServer(id);
    }
    killManager();
  }

  void killManager() throws InterruptedException {
    manager.destroyForcibly();
    manager.waitFor(10, TimeUnit.SECONDS);
  }

  long pid(int serverId) {
    return servers.get(serverId).pid();
  }

  /** Runs a one-shot client command and waits for it. */
  Result client(String... args) throws Exception {
    return clientProcess(args).await();
  }

  Running clientProcess(String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of("--manager", "127.0.0.1:" + managerPort));
    all.addAll(List.of(args));
    return rawClientProcess(all.toArray(new String[0]));
  }

  /** A client run with only --role and --root given: the caller says the rest. */
  Result rawClient(String... args) throws Exception {
    return rawClientProcess(args).await();
  }

  Running rawClientProcess(String... args) throws IOException {
    return rawClientProcess(Map.of(), args);
  }

  /** A one-shot client command with this extra environment (a user's BACKUP_SECRET, say). */
  Result clientWithEnv(Map<String, String> env, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("--manager", "127.0.0.1:" + managerPort));
    all.addAll(List.of(args));
    return rawClientProcess(env, all.toArray(new String[0])).await();
  }

  /** An admin command of the manager's role on its root ({@code users add NAME}), as its own process. */
  Result managerCommand(String... args) throws Exception {
    List<String> cmd = launcher();
    cmd.addAll(List.of("--role=manager", "--root", root("manager").toString()));
    cmd.addAll(List.of(args));
    return run(cmd, Map.of());
  }

  Running rawClientProcess(Map<String, String> env, String... args) throws IOException {
    List<String> cmd = launcher();
    cmd.addAll(List.of("--role=client", "--root", clientRoot().toString()));
    cmd.addAll(List.of(args));
    Files.createDirectories(clientRoot());
    return start(cmd, env);
  }

  private Result run(List<String> cmd, Map<String, String> env) throws Exception {
    return start(cmd, env).await();
  }

  private Running start(List<String> cmd, Map<String, String> env) throws IOException {
    Files.createDirectories(clientRoot());
    Path out = Files.createTempFile(dir, "client-out", ".txt");
    Path err = Files.createTempFile(dir, "client-err", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(
            Path.of("/dev/null").toFile()));
    pb.environment().remove("BACKUP_ROLE");
    launcherEnv(pb.environment());
    // The client's records of its files' checksums stay in the test's folder.
    pb.environment().put("BACKUP_CACHE_DIR", dir.resolve("client-cache").toString());
    pb.environment().putAll(env);
    Process p = pb.start();
    all.add(p);
    return new Running(p, out, err);
  }

  record Result(int exit, String out, String err) {
    JsonObject json() {
      return new JsonObject(out);
    }
  }

  record Running(Process process, Path out, Path err) {
    Result await() throws Exception {
      if (!process.waitFor(180, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError("client did not finish within 180 s");
      }
      return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    }
  }

  private io.vertx.core.Vertx vertx;
  private dev.backup.client.BackupClient fastClient;

  /** status over the protocol from this JVM: milliseconds, not a JVM start, for timing detection. */
  synchronized JsonObject fastStatus() {
    return fastRequest(new JsonObject().put("op", "status"));
  }

  /** Any control request over the protocol from this JVM. */
  synchronized JsonObject fastRequest(JsonObject req) {
    if (fastClient == null) {
      vertx = io.vertx.core.Vertx.vertx();
      fastClient = new dev.backup.client.BackupClient(vertx, dev.backup.TestSupport.config(
          dev.backup.config.Role.client, 0, 0, managerPort, clientRoot()));
    }
    return fastClient.request(req).await();
  }

  JsonObject status() throws Exception {
    Result r = client("status", "--json");
    if (r.exit() != 0) {
      throw new AssertionError("status failed: " + r.err());
    }
    return r.json();
  }

  static Map<Integer, Boolean> alive(JsonObject status) {
    Map<Integer, Boolean> m = new HashMap<>();
    for (Object o : status.getJsonArray("servers", new JsonArray())) {
      JsonObject s = (JsonObject) o;
      m.put(s.getInteger("id"), s.getBoolean("alive"));
    }
    return m;
  }

  /**
   * Waits until the manager reports {@code n} live servers. Asked over the protocol from
   * this JVM (a client JVM per poll would compete with the starting cluster for the CPU);
   * a manager that wants a signed-in user is asked through the real client instead.
   */
  void awaitAlive(int n, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < end) {
      JsonObject status = null;
      try {
        status = fastStatus();
      } catch (dev.backup.protocol.BackupException e) {
        if (e.code() == dev.backup.protocol.ErrorCode.DENIED) {
          Result r = client("status", "--json");
          if (r.exit() == 0) {
            status = r.json();
          } else {
            last = r.err();
          }
        } else {
          last = e.getMessage();
        }
      }
      if (status != null) {
        if (alive(status).values().stream().filter(b -> b).count() == n) {
          return;
        }
        last = status.encode();
      }
      Thread.sleep(200);
    }
    throw new AssertionError("cluster not ready in " + timeout + ": " + last + "\n" + logs());
  }

  String logs() {
    StringBuilder sb = new StringBuilder();
    try (var s = Files.list(dir.resolve("logs"))) {
      for (Path p : s.sorted().toList()) {
        List<String> lines = Files.readAllLines(p);
        sb.append("---- ").append(p.getFileName()).append('\n');
        lines.subList(Math.max(0, lines.size() - 30), lines.size()).forEach(l -> sb.append(l).append('\n'));
      }
    } catch (IOException e) {
      sb.append("(no logs: ").append(e).append(')');
    }
    return sb.toString();
  }

  @Override
  public void close() {
    if (fastClient != null) {
      fastClient.close();
      vertx.close();
    }
    for (Process p : all) {
      if (p.isAlive()) {
        p.destroy();
      }
    }
    for (Process p : all) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    keepLogs();
  }

  /** The elements' logs outlive the test's temporary folder, in target/e2e-logs, to read after a failure. */
  private void keepLogs() {
    Path kept = JAR.resolveSibling("e2e-logs").resolve(dir.getFileName().toString());
    try (var logs = Files.list(dir.resolve("logs"))) {
      Files.createDirectories(kept);
      for (Path log : logs.toList()) {
        Files.copy(log, kept.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      // Only a convenience: the test's result does not depend on it.
    }
  }
}
