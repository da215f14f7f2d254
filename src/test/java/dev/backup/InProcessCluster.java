package dev.backup;

import static org.awaitility.Awaitility.await;

import dev.backup.client.BackupClient;
import dev.backup.config.Config;
import dev.backup.config.Role;
import dev.backup.manager.ManagerVerticle;
import dev.backup.server.ServerVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

/** A manager and storage servers as verticles of one (non-clustered) Vert.x, for component tests. */
public final class InProcessCluster implements AutoCloseable {
  public final Vertx vertx = Vertx.vertx();
  public final Path dir;
  public final int managerPort = TestSupport.freePort();
  public final int[] serverPorts;
  public final BackupClient client;
  public final int idleTimeoutSeconds;
  private final UnaryOperator<Config> tweak;
  private final String[] serverDeployments;
  /** The servers' verticles, by id (the latest started). */
  public final ServerVerticle[] servers;

  public InProcessCluster(Path dir, int servers) {
    this(dir, servers, 30, UnaryOperator.identity());
  }

  public InProcessCluster(Path dir, int servers, int idleTimeoutSeconds) {
    this(dir, servers, idleTimeoutSeconds, UnaryOperator.identity());
  }

  /** Every element's configuration (the client's too) passes through {@code tweak}: TLS on, for one. */
  public InProcessCluster(Path dir, int servers, UnaryOperator<Config> tweak) {
    this(dir, servers, 30, tweak);
  }

  private InProcessCluster(Path dir, int servers, int idleTimeoutSeconds, UnaryOperator<Config> tweak) {
    this.dir = dir;
    this.idleTimeoutSeconds = idleTimeoutSeconds;
    this.tweak = tweak;
    this.serverPorts = new int[servers + 1];
    this.serverDeployments = new String[servers + 1];
    this.servers = new ServerVerticle[servers + 1];
    vertx.deployVerticle(new ManagerVerticle(tweak.apply(TestSupport.config(Role.manager, 0, managerPort, managerPort,
        dir.resolve("manager"), idleTimeoutSeconds)), null)).await();
    for (int id = 1; id <= servers; id++) {
      serverPorts[id] = TestSupport.freePort();
      String node = "node-" + id;
      this.servers[id] = new ServerVerticle(tweak.apply(TestSupport.config(Role.server, id,
          serverPorts[id], managerPort, dir.resolve("server-" + id), idleTimeoutSeconds)), () -> node);
      serverDeployments[id] = vertx.deployVerticle(this.servers[id]).await();
    }
    client = new BackupClient(vertx, clientConfig());
    await().atMost(Duration.ofSeconds(10)).until(() -> alive() == servers);
  }

  public Config clientConfig() {
    return tweak.apply(TestSupport.config(Role.client, 0, 0, managerPort, dir.resolve("client"), idleTimeoutSeconds));
  }

  /** Stops server {@code id} (its port closes, what it was receiving is rolled back). */
  public void killServer(int id) {
    vertx.undeploy(serverDeployments[id]).await();
  }

  /** Starts server {@code id} again on its port and root (as a restarted process would). */
  public void startServer(int id) {
    String node = "node-" + id + "-" + System.nanoTime();
    servers[id] = new ServerVerticle(tweak.apply(TestSupport.config(Role.server, id,
        serverPorts[id], managerPort, dir.resolve("server-" + id), idleTimeoutSeconds)), () -> node);
    serverDeployments[id] = vertx.deployVerticle(servers[id]).await();
  }

  /** The servers the catalog lists for the latest version of {@code name}. */
  public java.util.List<Integer> holders(String name) {
    JsonObject list = client.request(new JsonObject().put("op", "list")).await();
    java.util.List<Integer> out = new java.util.ArrayList<>();
    for (Object o : list.getJsonArray("files")) {
      JsonObject f = (JsonObject) o;
      if (f.getString("name").equals(name)) {
        f.getJsonArray("versions").getJsonObject(0).getJsonArray("replicas").forEach(x -> out.add((Integer) x));
      }
    }
    return out;
  }

  /** Server {@code id} as {@code status --json} shows it (empty if it is not listed). */
  public JsonObject status(int id) {
    JsonObject s = client.request(new JsonObject().put("op", "status")).await();
    return s.getJsonArray("servers").stream().map(o -> (JsonObject) o).filter(o -> o.getInteger("id") == id)
        .findFirst().orElse(new JsonObject());
  }

  public long alive() {
    JsonObject s = client.request(new JsonObject().put("op", "status")).await();
    return s.getJsonArray("servers").stream().filter(o -> ((JsonObject) o).getBoolean("alive")).count();
  }

  @Override
  public void close() {
    client.close();
    vertx.close().await();
  }
}
