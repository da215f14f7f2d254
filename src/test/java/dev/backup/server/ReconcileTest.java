package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.cluster.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A copy reported late, after its file was healed elsewhere, and its server's return. */
class ReconcileTest {
  @TempDir
  Path dir;
  InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private List<Integer> holders(String name) {
    JsonObject list = cluster.client.request(new JsonObject().put("op", "list")).await();
    List<Integer> out = new ArrayList<>();
    for (Object o : list.getJsonArray("files")) {
      JsonObject f = (JsonObject) o;
      if (f.getString("name").equals(name)) {
        f.getJsonArray("versions").getJsonObject(0).getJsonArray("replicas").forEach(x -> out.add((Integer) x));
      }
    }
    return out;
  }

  @Test
  void aCopyReportedLateIsRefusedOnceTheFileHasItsCopiesAndGoesWhenItsServerReturns() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    Path f = TestSupport.randomFile(dir.resolve("client/late.bin"), 50_000, 7);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "late.bin", 2).await();
    List<Integer> first = holders("late.bin");
    int away = first.get(0);
    Path awayCopy = dir.resolve("server-" + away).resolve("files/late.bin.v" + u.version());
    assertThat(awayCopy).exists();

    cluster.killServer(away);
    // Healed onto the third server (after the manager's start-up grace).
    await().atMost(Duration.ofSeconds(30)).until(() -> holders("late.bin").size() == 2
        && !holders("late.bin").contains(away));
    // The report of a copy onto the server that went away, whose answer had been lost,
    // arrives late: the file has its two copies, so the manager refuses it (the server
    // then removes that copy) and the catalog keeps listing the two real ones.
    assertThatThrownBy(() -> cluster.vertx.eventBus().request(Addresses.COMMITTED, new JsonObject().put("copy", true)
        .put("name", "late.bin").put("version", u.version()).put("servers", new JsonArray().add(away))).await())
        .hasMessageContaining("already has its 2 copies");
    assertThat(holders("late.bin")).hasSize(2).doesNotContain(away);

    // When it comes back, its copy (which the catalog does not list) goes.
    cluster.startServer(away);
    await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(awayCopy));
    assertThat(holders("late.bin")).hasSize(2).doesNotContain(away);
    for (int id : holders("late.bin")) {
      assertThat(Files.mismatch(dir.resolve("server-" + id).resolve("files/late.bin.v" + u.version()), f))
          .isEqualTo(-1L);
    }
  }
}
