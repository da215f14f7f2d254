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

/** A manager and storage servers as verticles of one (non-clustered) Vert.x, for component tests. */
public final class InProcessCluster implements AutoCloseable {
  public final Vertx vertx = Vertx.vertx();
  public final Path dir;
  public final int managerPort = TestSupport.freePort();
  public final int[] serverPorts;
  public final BackupClient client;
  public final int idleTimeoutSeconds;

  public InProcessCluster(Path dir, int servers) {
    this(dir, servers, 30);
  }

  public InProcessCluster(Path dir, int servers, int idleTimeoutSeconds) {
    this.dir = dir;
    this.idleTimeoutSeconds = idleTimeoutSeconds;
    this.serverPorts = new int[servers + 1];
    vertx.deployVerticle(new ManagerVerticle(TestSupport.config(Role.manager, 0, managerPort, managerPort,
        dir.resolve("manager"), idleTimeoutSeconds), null)).await();
    for (int id = 1; id <= servers; id++) {
      serverPorts[id] = TestSupport.freePort();
      String node = "node-" + id;
      vertx.deployVerticle(new ServerVerticle(TestSupport.config(Role.server, id, serverPorts[id], managerPort,
          dir.resolve("server-" + id), idleTimeoutSeconds), () -> node)).await();
    }
    client = new BackupClient(vertx, clientConfig());
    await().atMost(Duration.ofSeconds(10)).until(() -> alive() == servers);
  }

  public Config clientConfig() {
    return TestSupport.config(Role.client, 0, 0, managerPort, dir.resolve("client"), idleTimeoutSeconds);
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
