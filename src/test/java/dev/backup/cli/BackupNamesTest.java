package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backing up a folder with a file whose name the system refuses. */
class BackupNamesTest {
  @TempDir
  Path dir;

  /**
   * A Linux file named {@code a\b.txt} beside the file b.txt of folder a: the first gets
   * its own error (a name with \ is refused), the second is backed up with its bytes.
   */
  @Test
  void aBackslashNameIsAnErrorOfItsOwnNotAnotherFile() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 2)) {
      Path root = Files.createDirectories(dir.resolve("client"));
      Files.createDirectories(root.resolve("d/a"));
      Files.writeString(root.resolve("d/a\\b.txt"), "backslash");
      Files.writeString(root.resolve("d/a/b.txt"), "folder");
      Path conf = dir.resolve("client.properties");
      Files.writeString(conf, "cache-dir=off\n");

      TestSupport.Run run = TestSupport.command(Map.of("BACKUP_CONF", conf.toString()), "--role=client", "--manager",
          "127.0.0.1:" + cluster.managerPort, "--root", root.toString(), "backup", "d");
      assertThat(run.code()).isNotZero();
      assertThat(run.err()).contains("d/a\\b.txt").contains("not \\");
      assertThat(run.out()).contains("backed up d/a/b.txt").contains("1 of 2 files backed up");
      assertThat(cluster.holders("d/a/b.txt")).hasSize(2);
      String sha = cluster.client.stat(java.util.List.of("d/a/b.txt")).await().getJsonObject("d/a/b.txt")
          .getString("sha256");
      assertThat(sha).isEqualTo(TestSupport.sha256(root.resolve("d/a/b.txt")));
    }
  }
}
