package dev.backup.perf;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Manual probe (not a test): small-file backup rate in one JVM. */
public final class SmallFilesProbe {
  public static void main(String[] args) throws Exception {
    Path dir = java.nio.file.Files.createTempDirectory("probe");
    try (InProcessCluster c = new InProcessCluster(dir, 4)) {
      List<Path> files = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        files.add(TestSupport.randomFile(dir.resolve("client/f" + i), 4096, i));
      }
      long s0 = System.nanoTime();
      for (int i = 0; i < 100; i++) {
        c.client.request(new io.vertx.core.json.JsonObject().put("op", "stat")).await();
      }
      long s1 = System.nanoTime();
      for (int i = 0; i < Integer.getInteger("places", 100); i++) {
        c.client.request(new io.vertx.core.json.JsonObject().put("op", "place").put("name", "p/x" + i).put("size", 1)
            .put("replicas", 2)).await();
      }
      long s2 = System.nanoTime();
      System.out.printf("stat round trip %.2f ms, place round trip %.2f ms%n", (s1 - s0) / 1e8, (s2 - s1) / 1e8);
      long t0 = System.nanoTime();
      for (int i = 0; i < 100; i++) {
        c.client.upload(files.get(i).toString(), "seq/f" + i, 2).await();
      }
      long t1 = System.nanoTime();
      List<Future<BackupClient.Uploaded>> all = new ArrayList<>();
      for (int i = 100; i < 300; i++) {
        all.add(c.client.upload(files.get(i).toString(), "par/f" + i, 2));
      }
      Future.all(all).await();
      long t2 = System.nanoTime();
      System.out.printf("sequential: %.1f files/s, 200 at once: %.1f files/s%n", 100 / ((t1 - t0) / 1e9), 200 / ((t2 - t1) / 1e9));
    }
  }
}
