package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.backup.HostileClients;
import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.cluster.Addresses;
import dev.backup.cluster.Ticket;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transfer whose next server refuses the connection while its temporary file is being
 * opened: the file opened after the failure is closed and removed all the same.
 */
class RefusedChainTest {
  @TempDir
  Path dir;

  @Test
  void noTemporaryFileIsLeftWhenTheNextServerRefuses() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 1)) {
      // No such port: the connection fails at once, often before the file is open.
      int refusing = 70_000;
      NetClient nc = cluster.vertx.createNetClient();
      for (int i = 0; i < 40; i++) {
        // Larger than a copy kept whole in memory: streamed into a file in the temporary folder.
        Ticket t = Ticket.sign(TestSupport.SECRET, "refused-" + i, "r" + i + ".bin", 1, 1_000_000,
            List.of(new Ticket.Hop(1, "127.0.0.1", cluster.serverPorts[1]), new Ticket.Hop(2, "127.0.0.1", refusing)),
            System.currentTimeMillis() + 60_000);
        cluster.vertx.eventBus().request(Addresses.prepare(1), new JsonObject().put("ticket", t.toJson())).await();
        Frame answer = HostileClients.exchange(nc, cluster.serverPorts[1], new Frame(Op.PUT, 1, new JsonObject()
            .put("ticket", t.toJson()).put("hop", 0).put("replicas", 2)).encode());
        assertThat(answer.op()).isEqualTo(Op.ERROR);
      }
      Path tmp = dir.resolve("server-1/.bk-tmp");
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(TestSupport.filesUnder(tmp)).isEmpty());
      Thread.sleep(500);
      assertThat(TestSupport.filesUnder(tmp)).isEmpty();
      // And the server still takes copies.
      Path f = TestSupport.randomFile(dir.resolve("client/after.bin"), 500_000, 5);
      cluster.client.upload(f.toString(), "after.bin", 1).await();
      assertThat(Files.mismatch(dir.resolve("server-1/files/after.bin.v1"), f)).isEqualTo(-1L);
    }
  }
}
