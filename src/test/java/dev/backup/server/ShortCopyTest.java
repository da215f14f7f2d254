package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import io.vertx.core.json.JsonObject;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A copy cut short on disk is refused at once, not sent short (its reader would wait for the rest). */
class ShortCopyTest {
  @TempDir
  Path dir;

  @Test
  void aRestoreGoesOnFromAnotherCopyAtOnceWhenTheFirstIsShortOnDisk() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 2, 30)) {
      Path f = TestSupport.randomFile(dir.resolve("client/short.bin"), 3_000_000, 41);
      cluster.client.upload(f.toString(), "short.bin", 2).await();
      JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", "short.bin")).await();
      JsonObject file = plan.getJsonArray("files").getJsonObject(0);
      int first = file.getJsonArray("sources").getJsonObject(0).getInteger("id");
      try (FileChannel ch = FileChannel.open(dir.resolve("server-" + first + "/files/short.bin.v1"),
          StandardOpenOption.WRITE)) {
        ch.truncate(1_000_000);
      }
      List<String> notes = new java.util.concurrent.CopyOnWriteArrayList<>();
      Path target = dir.resolve("client/restored.bin");
      long started = System.nanoTime();
      cluster.client.restore(file, target, false, notes::add).await();
      long tookMillis = (System.nanoTime() - started) / 1_000_000;
      assertThat(Files.mismatch(target, f)).isEqualTo(-1L);
      // Well within the 30 s idle timeout a reader of a copy sent short would wait.
      assertThat(tookMillis).isLessThan(10_000L);
      assertThat(notes).singleElement().asString().contains("holds 1000000 bytes").contains("going on from server");
    }
  }
}
