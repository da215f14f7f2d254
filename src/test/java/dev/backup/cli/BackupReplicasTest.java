package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code backup PATH --replicas R} of an unchanged file changes its copies to R, as {@code replicas PATH R} would. */
class BackupReplicasTest {
  @TempDir
  Path dir;

  @Test
  void anUnchangedFileTakesTheCopiesAskedFor() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3)) {
      Files.createDirectories(dir.resolve("client"));
      Files.writeString(dir.resolve("client/a.txt"), "the same bytes every time");
      // The client keeps its records of its files: an unchanged file is known so without asking the manager.
      Path conf = dir.resolve("client.properties");
      Files.writeString(conf, "cache-dir=" + dir.resolve("cache") + "\ncache-settle-seconds=0\n");

      TestSupport.Run first = backup(cluster, conf, "a.txt", "--replicas", "1");
      assertThat(first.code()).as(first.err()).isZero();
      assertThat(cluster.holders("a.txt")).hasSize(1);

      // A file backed up (from elsewhere) under a folder of the same name: not the file named.
      Path other = Files.writeString(dir.resolve("other.txt"), "another file");
      cluster.client.upload(other.toString(), "a.txt/x", 1).await();

      // Known unchanged from the client's record.
      TestSupport.Run more = backup(cluster, conf, "a.txt", "--replicas", "2");
      assertThat(more.code()).as(more.err()).isZero();
      assertThat(more.out()).contains("unchanged a.txt").contains("now 2 copies");
      assertThat(cluster.holders("a.txt")).hasSize(2);
      assertThat(wanted(cluster, "a.txt")).isEqualTo(2);
      assertThat(wanted(cluster, "a.txt/x")).isEqualTo(1);

      // Read again and found unchanged by the manager.
      TestSupport.Run reread = backup(cluster, conf, "a.txt", "--reread", "--replicas", "3");
      assertThat(reread.code()).as(reread.err()).isZero();
      assertThat(reread.out()).contains("unchanged a.txt").contains("now 3 copies");
      assertThat(cluster.holders("a.txt")).hasSize(3);

      // More copies than live servers: a clear error, and nothing changes.
      TestSupport.Run tooMany = backup(cluster, conf, "a.txt", "--replicas", "4");
      assertThat(tooMany.code()).isNotZero();
      assertThat(tooMany.err()).contains("a.txt").contains("only 3 servers are alive");
      assertThat(cluster.holders("a.txt")).hasSize(3);

      // Fewer, and without --replicas the copies stay as they are.
      TestSupport.Run fewer = backup(cluster, conf, "a.txt", "--replicas", "1");
      assertThat(fewer.code()).as(fewer.err()).isZero();
      assertThat(cluster.holders("a.txt")).hasSize(1);
      TestSupport.Run plain = backup(cluster, conf, "a.txt");
      assertThat(plain.code()).as(plain.err()).isZero();
      assertThat(plain.out()).contains("unchanged a.txt").doesNotContain("copies");
      assertThat(cluster.holders("a.txt")).hasSize(1);
      assertThat(wanted(cluster, "a.txt")).isEqualTo(1);
    }
  }

  private static int wanted(InProcessCluster cluster, String name) {
    return cluster.client.request(new io.vertx.core.json.JsonObject().put("op", "list")).await()
        .getJsonArray("files").stream().map(o -> (io.vertx.core.json.JsonObject) o)
        .filter(f -> f.getString("name").equals(name)).findFirst().orElseThrow().getInteger("replicas");
  }

  private static TestSupport.Run backup(InProcessCluster cluster, Path conf, String... args) {
    String[] all = new String[5 + args.length];
    all[0] = "--role=client";
    all[1] = "--manager";
    all[2] = "127.0.0.1:" + cluster.managerPort;
    all[3] = "--root";
    all[4] = cluster.dir.resolve("client").toString();
    String[] line = new String[all.length + 1];
    System.arraycopy(all, 0, line, 0, 5);
    line[5] = "backup";
    System.arraycopy(args, 0, line, 6, args.length);
    return TestSupport.command(Map.of("BACKUP_CONF", conf.toString()), line);
  }
}
