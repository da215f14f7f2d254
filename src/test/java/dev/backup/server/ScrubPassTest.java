package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.cluster.Addresses;
import dev.backup.config.Config;
import dev.backup.config.Role;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A scrub pass takes the copies from its walk a batch at a time, and judges every one of them. */
class ScrubPassTest {
  @TempDir
  Path dir;
  InProcessCluster cluster;

  @AfterEach
  void stop() {
    ServerVerticle.scrubBatch = 1_000;
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A server's configuration with a scrub pass every second. */
  private static Config scrubEverySecond(Config c) {
    if (c.role() != Role.server) {
      return c;
    }
    return TestSupport.scrubEvery(c, 1);
  }

  @Test
  void eachScrubPassCountsTheCopiesSetAsideAgain() throws Exception {
    cluster = new InProcessCluster(dir, 1, ScrubPassTest::scrubEverySecond);
    await().atMost(Duration.ofSeconds(10)).until(() -> setAside(1) == 0);
    // One left under damaged/ after the count at start (as a user might put one back), then
    // taken away: only the passes (one a second here) count again.
    Path aside = dir.resolve("server-1/damaged/x/y.bin.v3");
    Files.createDirectories(aside.getParent());
    Files.writeString(aside, "what is left");
    await().atMost(Duration.ofSeconds(30)).until(() -> setAside(1) == 1);
    Files.delete(aside);
    await().atMost(Duration.ofSeconds(30)).until(() -> setAside(1) == 0);
  }

  /** Server {@code id}'s copies set aside, as status shows them (-1: none said yet). */
  private int setAside(int id) {
    return cluster.status(id).getInteger("damagedAside", -1);
  }

  /** When the last scrub pass on this root ended (0: none yet). */
  private static long passEnded(Path mark) {
    try {
      return Long.parseLong(Files.readString(mark).trim());
    } catch (java.io.IOException | NumberFormatException e) {
      return 0;
    }
  }

  @Test
  void everyDamagedCopyIsFoundWhateverBatchItIsReadIn() throws Exception {
    ServerVerticle.scrubBatch = 2;
    cluster = new InProcessCluster(dir, 2, ScrubPassTest::scrubEverySecond);
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      files.add(TestSupport.randomFile(dir.resolve("client/d" + (i % 3) + "/f" + i + ".bin"), 2_000 + i, 70 + i));
      cluster.client.upload(files.get(i).toString(), "d" + (i % 3) + "/f" + i + ".bin", 2).await();
    }
    // Every copy on server 1 rots while it is down (same size, other bytes): seven copies,
    // in folders, read by its first scrub pass after its return two at a time. That one
    // pass reports each (not a pass that stops early, whose next ones find the rest).
    cluster.killServer(1);
    for (int i = 0; i < 7; i++) {
      Path copy = dir.resolve("server-1/files/d" + (i % 3) + "/f" + i + ".bin.v1");
      byte[] b = Files.readAllBytes(copy);
      b[b.length / 2] ^= 0x5a;
      Files.write(copy, b);
    }
    Path mark = dir.resolve("server-1/scrub.last");
    Files.deleteIfExists(mark);
    // (Each report with the time it was sent: the first pass's are those sent before its end,
    // which it writes in its mark.)
    List<java.util.Map.Entry<String, Long>> reported = java.util.Collections.synchronizedList(new ArrayList<>());
    cluster.vertx.eventBus().addOutboundInterceptor(dc -> {
      if (dc.message().address().equals(Addresses.BAD_COPY) && dc.message().body() instanceof JsonObject b
          && b.getInteger("id") == 1) {
        reported.add(java.util.Map.entry(b.getString("name"), System.currentTimeMillis()));
      }
      dc.next();
    });
    long restarted = System.currentTimeMillis();
    cluster.startServer(1);
    await().atMost(Duration.ofSeconds(30)).until(() -> passEnded(mark) >= restarted);
    long firstPassEnd = passEnded(mark);
    synchronized (reported) {
      assertThat(reported.stream().filter(r -> r.getValue() >= restarted && r.getValue() <= firstPassEnd)
          .map(java.util.Map.Entry::getKey).distinct()).hasSize(7);
    }
    // And each is made again from server 2's.
    await().atMost(Duration.ofSeconds(60)).until(() -> {
      for (int i = 0; i < 7; i++) {
        Path copy = dir.resolve("server-1/files/d" + (i % 3) + "/f" + i + ".bin.v1");
        List<Integer> holders = cluster.holders("d" + (i % 3) + "/f" + i + ".bin");
        if (!Files.exists(copy) || Files.mismatch(copy, files.get(i)) != -1L || holders.size() != 2
            || !holders.containsAll(List.of(1, 2))) {
          return false;
        }
      }
      return true;
    });
  }
}
