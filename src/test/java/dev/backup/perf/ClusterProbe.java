package dev.backup.perf;

import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.config.Role;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/** Manual probe (not a test): round trips against a running manager at 127.0.0.1:PORT. */
public final class ClusterProbe {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Vertx vertx = Vertx.vertx();
    Path dir = java.nio.file.Files.createTempDirectory("cprobe");
    BackupClient c = new BackupClient(vertx, TestSupport.config(Role.client, 0, 0, port, dir));
    Path f = TestSupport.randomFile(dir.resolve("f"), 4096, 1);
    for (int round = 0; round < 3; round++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 50; i++) {
        c.request(new JsonObject().put("op", "stat")).await();
      }
      long t1 = System.nanoTime();
      for (int i = 0; i < 50; i++) {
        c.request(new JsonObject().put("op", "place").put("name", "probe/p" + round + "-" + i).put("size", 1)
            .put("replicas", 2)).await();
      }
      long t2 = System.nanoTime();
      for (int i = 0; i < 50; i++) {
        c.upload(f.toString(), "probe/u" + round + "-" + i, 2).await();
      }
      long t3 = System.nanoTime();
      System.out.printf("stat %.2f ms, place %.2f ms, upload %.2f ms%n", (t1 - t0) / 5e7, (t2 - t1) / 5e7, (t3 - t2) / 5e7);
    }
    c.close();
    vertx.close().await();
  }
}
