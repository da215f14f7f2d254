package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.cluster.Addresses;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sender goes away while the primary's report of the stored copies is on its way to
 * the manager: the manager records the version, so no copy it lists may be removed.
 */
class ReportInFlightTest {
  @TempDir
  Path dir;
  InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Messages to the manager about transfers, held back in their order while {@code hold} is set. */
  private record Held(DeliveryContext<Object> delivery, Context context) {
  }

  @Test
  void aCopyWhoseReportIsOnItsWayIsKeptWhenTheSenderGoesAway() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    AtomicBoolean hold = new AtomicBoolean(true);
    List<Held> held = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> addresses = java.util.Collections.synchronizedList(new ArrayList<>());
    cluster.vertx.eventBus().addInboundInterceptor(dc -> {
      String a = dc.message().address();
      if (hold.get() && (a.equals(Addresses.COMMITTED) || a.equals(Addresses.ABORTED))) {
        addresses.add(a);
        held.add(new Held(dc, io.vertx.core.Vertx.currentContext()));
      } else {
        dc.next();
      }
    });
    Path f = TestSupport.randomFile(dir.resolve("client/a.bin"), 20_000, 3);
    Future<BackupClient.Uploaded> upload = cluster.client.upload(f.toString(), "a.bin", 2, null);
    // Both copies are in place and the primary's report is on its way: the sender goes away.
    await().atMost(Duration.ofSeconds(10)).until(() -> addresses.contains(Addresses.COMMITTED));
    cluster.client.cancel();
    await().atMost(Duration.ofSeconds(10)).until(upload::failed);
    // The primary heard of it (and reported the transfer aborted, after its report).
    await().atMost(Duration.ofSeconds(10)).until(() -> addresses.contains(Addresses.ABORTED));
    // (A report tried again, should the hold outlast its 5-s timeout, comes after.)
    assertThat(addresses.subList(0, 2)).containsExactly(Addresses.COMMITTED, Addresses.ABORTED);

    // The messages arrive, in their order: the manager records the version; the abort then
    // finds it recorded and changes nothing.
    hold.set(false);
    synchronized (held) {
      for (Held h : held) {
        h.context().runOnContext(v -> h.delivery().next());
      }
    }
    cluster.client.resetCancel();
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.holders("a.bin").size() == 2);
    // Every copy the catalog lists is there, with the file's bytes, and stays.
    Thread.sleep(500);
    List<Integer> holders = cluster.holders("a.bin");
    assertThat(holders).hasSize(2);
    for (int id : holders) {
      Path copy = dir.resolve("server-" + id).resolve("files/a.bin.v1");
      assertThat(copy).exists();
      assertThat(Files.mismatch(copy, f)).isEqualTo(-1L);
    }
  }

  @Test
  void aManagerThatCannotWriteItsCatalogYetIsAskedAgainNotTakenForARefusal() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    java.util.concurrent.atomic.AtomicInteger reports = new java.util.concurrent.atomic.AtomicInteger();
    cluster.vertx.eventBus().addInboundInterceptor(dc -> {
      if (dc.message().address().equals(Addresses.COMMITTED) && reports.incrementAndGet() == 1) {
        // As the manager answers when its catalog write failed (the change is in its memory,
        // and the next write, a whole snapshot, carries it).
        dc.message().fail(dev.backup.protocol.ErrorCode.IO.code(), "the manager cannot write its catalog: disk full");
      } else {
        dc.next();
      }
    });
    Path f = TestSupport.randomFile(dir.resolve("client/b.bin"), 20_000, 5);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "b.bin", 2, null).await();
    assertThat(reports.get()).isEqualTo(2);
    assertThat(u.copies()).isEqualTo(2);
    List<Integer> holders = cluster.holders("b.bin");
    assertThat(holders).hasSize(2);
    for (int id : holders) {
      assertThat(Files.mismatch(dir.resolve("server-" + id).resolve("files/b.bin.v1"), f)).isEqualTo(-1L);
    }
  }

  @Test
  void aFailedTransferTakesOutOnlyItsOwnCopyNotOneALaterTransferPutThere() throws Exception {
    cluster = new InProcessCluster(dir, 2);
    Path f = TestSupport.randomFile(dir.resolve("client/c.bin"), 20_000, 9);
    cluster.client.upload(f.toString(), "c.bin", 1, null).await();
    int id = cluster.holders("c.bin").get(0);
    ServerVerticle server = cluster.servers[id];
    dev.backup.storage.ReplicaMeta here = server.store().readMeta("c.bin", 1);
    // An earlier transfer of the same version to this server, which failed after its copy
    // was in place (a heal given up and sent again, say), takes its copy out late: the copy
    // there now is the later transfer's, and stays.
    dev.backup.storage.ReplicaMeta earlier = new dev.backup.storage.ReplicaMeta(here.name(), here.version(),
        here.size(), here.sha256(), here.createdMillis() - 1_000, here.replicasWanted());
    Path copy = dir.resolve("server-" + id).resolve("files/c.bin.v1");
    assertThat(discard(server, earlier)).isFalse();
    assertThat(Files.mismatch(copy, f)).isEqualTo(-1L);
    // Its own copy it does take out.
    assertThat(discard(server, here)).isTrue();
    assertThat(copy).doesNotExist();
  }

  @Test
  void aCopyThatFailsAfterReplacingOneAlreadyThereLeavesItThere() throws Exception {
    cluster = new InProcessCluster(dir, 2);
    Path f = TestSupport.randomFile(dir.resolve("client/e.bin"), 20_000, 23);
    cluster.client.upload(f.toString(), "e.bin", 2, null).await();
    assertThat(cluster.holders("e.bin")).containsExactlyInAnyOrder(1, 2);
    Path copy = dir.resolve("server-2/files/e.bin.v1");
    // A copy of e.bin v1 is sent to server 2 again (a heal given up and sent again, say),
    // puts its bytes over the copy the catalog counts there, and then fails (the manager
    // does not want it): the copy that was there before must stay.
    cluster.vertx.eventBus().addInboundInterceptor(dc -> {
      if (dc.message().address().equals(Addresses.COMMITTED)) {
        dc.message().fail(dev.backup.protocol.ErrorCode.EXISTS.code(), "e.bin v1 already has its 2 copies");
      } else {
        dc.next();
      }
    });
    dev.backup.cluster.Ticket t = dev.backup.cluster.Ticket.sign(TestSupport.SECRET, "again-1", "e.bin", 1, 20_000,
        List.of(new dev.backup.cluster.Ticket.Hop(2, "127.0.0.1", cluster.serverPorts[2])),
        System.currentTimeMillis() + 60_000);
    cluster.vertx.eventBus().request(Addresses.prepare(2), new JsonObject().put("ticket", t.toJson())).await();
    io.vertx.core.buffer.Buffer bytes = new dev.backup.protocol.Frame(dev.backup.protocol.Op.PUT, 1, new JsonObject()
        .put("ticket", t.toJson()).put("hop", 0).put("replicas", 2).put("copy", true)).encode()
        .appendBytes(Files.readAllBytes(f))
        .appendBuffer(new dev.backup.protocol.Frame(dev.backup.protocol.Op.COMMIT, 1, new JsonObject()
            .put("sha256", dev.backup.storage.BlobStore.sha256(f))).encode());
    io.vertx.core.net.NetClient nc = cluster.vertx.createNetClient();
    dev.backup.protocol.Frame answer = dev.backup.HostileClients.exchange(nc, cluster.serverPorts[2], bytes);
    assertThat(answer.op()).isEqualTo(dev.backup.protocol.Op.ERROR);
    Thread.sleep(500);
    assertThat(copy).exists();
    assertThat(Files.mismatch(copy, f)).isEqualTo(-1L);
  }

  private static boolean discard(ServerVerticle server, dev.backup.storage.ReplicaMeta meta) {
    io.vertx.core.Promise<Boolean> done = io.vertx.core.Promise.promise();
    server.context().runOnContext(v -> server.discardReplica(meta).onComplete(done));
    return done.future().await();
  }
}
