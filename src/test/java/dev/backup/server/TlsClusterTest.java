package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestCerts;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.config.Config;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A manager and four servers with TLS on every TCP connection (client to manager, client
 * to server, server to server, the manager's watch connections), certificates from a
 * throwaway CA made at test time.
 */
class TlsClusterTest {
  static TestCerts.Set certs;
  static TestCerts.Set stranger;
  static InProcessCluster cluster;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.make(dir.resolve("tls"));
    stranger = TestCerts.make(dir.resolve("other-ca"));
    cluster = new InProcessCluster(dir.resolve("cluster"), 4, TlsClusterTest::withTls);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static Config withTls(Config c) {
    return c.withTls(certs.cert(), certs.key(), certs.ca());
  }

  static List<Path> copiesOf(Path root, int servers, String name, long version, int... except) {
    List<Path> out = new ArrayList<>();
    for (int id = 1; id <= servers; id++) {
      final int sid = id;
      if (java.util.Arrays.stream(except).anyMatch(x -> x == sid)) {
        continue;
      }
      Path p = root.resolve("server-" + id).resolve("files").resolve(name + ".v" + version);
      if (Files.exists(p)) {
        out.add(p);
      }
    }
    return out;
  }

  @Test
  void aBackupGoesThroughTheWholePipelineAndComesBackByteExact() throws Exception {
    Path f = TestSupport.randomFile(cluster.dir.resolve("client/tls/big.bin"), 12_345_678, 1);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "tls/big.bin", 2).await();
    assertThat(u.copies()).isEqualTo(2);
    assertThat(copiesOf(cluster.dir, 4, "tls/big.bin", u.version())).hasSize(2)
        .allSatisfy(c -> assertThat(Files.mismatch(c, f)).isEqualTo(-1L));

    // Restored with sendFile, which cannot be zero-copy under TLS: Vert.x writes the file in chunks.
    JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", "tls/big.bin")).await();
    Path target = cluster.dir.resolve("client/tls/big-restored.bin");
    List<String> notes = new CopyOnWriteArrayList<>();
    cluster.client.restore(plan.getJsonArray("files").getJsonObject(0), target, false, notes::add).await();
    assertThat(Files.mismatch(target, f)).isEqualTo(-1L);
    assertThat(notes).isEmpty();
  }

  @Test
  void moreCopiesAreMadeServerToServer() throws Exception {
    Path f = TestSupport.randomFile(cluster.dir.resolve("client/tls/more.bin"), 3_000_000, 2);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "tls/more.bin", 2).await();
    cluster.client.request(new JsonObject().put("op", "replicas").put("path", "tls/more.bin").put("replicas", 4))
        .await();
    assertThat(copiesOf(cluster.dir, 4, "tls/more.bin", u.version())).hasSize(4)
        .allSatisfy(c -> assertThat(Files.mismatch(c, f)).isEqualTo(-1L));
  }

  @Test
  void aClientThatDoesNotTrustTheCaIsRefusedWithAClearError() {
    Config c = cluster.clientConfig().withTls(null, null, stranger.ca());
    try (BackupClient other = new BackupClient(cluster.vertx, c)) {
      assertThatThrownBy(() -> other.request(new JsonObject().put("op", "status")).await())
          .isInstanceOfSatisfying(BackupException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CONNECTION);
            assertThat(e.getMessage()).contains("TLS connection to the manager at 127.0.0.1:" + cluster.managerPort)
                .contains("certificate is not accepted");
          });
    }
  }

  @Test
  void aPlainClientTalkingToATlsManagerGetsAClearError() {
    Config plain = TestSupport.config(dev.backup.config.Role.client, 0, 0, cluster.managerPort,
        cluster.dir.resolve("client"));
    try (BackupClient other = new BackupClient(cluster.vertx, plain)) {
      assertThatThrownBy(() -> other.request(new JsonObject().put("op", "status")).await())
          .isInstanceOfSatisfying(BackupException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CONNECTION);
            assertThat(e.getMessage()).contains("before any answer").contains("uses TLS");
          });
    }
    // The manager goes on serving the others.
    assertThat(cluster.alive()).isEqualTo(4);
  }

  @Test
  void aTlsClientTalkingToAPlainManagerGetsAClearError() {
    NetServer plain = cluster.vertx.createNetServer().connectHandler(sock -> sock.handler(b ->
            sock.write(Frame.error(0, ErrorCode.PROTOCOL, "bad magic").encode()).onComplete(x -> sock.close())))
        .listen(0, "127.0.0.1").await();
    try (BackupClient other = new BackupClient(cluster.vertx,
        TestSupport.config(dev.backup.config.Role.client, 0, 0, plain.actualPort(), cluster.dir.resolve("client"))
            .withTls(null, null, certs.ca()))) {
      assertThatThrownBy(() -> other.request(new JsonObject().put("op", "status")).await())
          .isInstanceOfSatisfying(BackupException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CONNECTION);
            assertThat(e.getMessage()).contains("TLS connection to the manager").containsAnyOf(
                "does not speak TLS", "handshake failed");
          });
    } finally {
      plain.close().await();
    }
  }

  @Test
  void aLostCopyIsHealedServerToServer(@TempDir Path own) throws Exception {
    try (InProcessCluster three = new InProcessCluster(own, 3, TlsClusterTest::withTls)) {
      Path f = TestSupport.randomFile(own.resolve("client/heal.bin"), 6_000_000, 3);
      BackupClient.Uploaded u = three.client.upload(f.toString(), "heal.bin", 2).await();
      JsonArray holders = three.client.request(new JsonObject().put("op", "list")).await()
          .getJsonArray("files").getJsonObject(0).getJsonArray("versions").getJsonObject(0).getJsonArray("replicas");
      int lost = holders.getInteger(0);
      three.killServer(lost);
      // The manager heals once its start-up grace is over: a copy from the survivor onto the third server.
      await().atMost(Duration.ofSeconds(40)).until(() -> copiesOf(own, 3, "heal.bin", u.version(), lost).size() == 2);
      assertThat(copiesOf(own, 3, "heal.bin", u.version(), lost))
          .allSatisfy(c -> assertThat(Files.mismatch(c, f)).isEqualTo(-1L));
      await().atMost(Duration.ofSeconds(10)).until(() -> three.client.request(new JsonObject().put("op", "list"))
          .await().getJsonArray("files").getJsonObject(0).getJsonArray("versions").getJsonObject(0)
          .getJsonArray("replicas").size() == 2);
      assertThat(three.client.request(new JsonObject().put("op", "list")).await().getJsonArray("files")
          .getJsonObject(0).getJsonArray("versions").getJsonObject(0).getJsonArray("replicas").getList())
          .doesNotContain(lost);
    }
  }
}
