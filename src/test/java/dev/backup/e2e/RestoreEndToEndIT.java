package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Restore, versions, replication changes, delete and verify with the real jar as separate processes. */
class RestoreEndToEndIT extends EndToEndBase {
  @BeforeAll
  static void start() throws Exception {
    startCluster(java.util.Map.of());
  }

  static JsonObject entry(String name) throws Exception {
    for (Object o : cluster.client("list", "--json").json().getJsonArray("files")) {
      if (((JsonObject) o).getString("name").equals(name)) {
        return (JsonObject) o;
      }
    }
    return null;
  }

  static List<Integer> holders(String name, long version) throws Exception {
    List<Integer> ids = new ArrayList<>();
    for (Object o : entry(name).getJsonArray("versions")) {
      JsonObject v = (JsonObject) o;
      if (v.getLong("version") == version) {
        v.getJsonArray("replicas").forEach(x -> ids.add((Integer) x));
      }
    }
    return ids;
  }

  /** Servers whose disk holds a copy of name version. */
  static List<Integer> onDisk(String name, long version) {
    List<Integer> ids = new ArrayList<>();
    for (int id = 1; id <= 4; id++) {
      if (Files.exists(cluster.serverRoot(id).resolve("files").resolve(name + ".v" + version))) {
        ids.add(id);
      }
    }
    return ids;
  }

  @Test
  void emptySmallAndLargeFilesComeBackByteExact() throws Exception {
    Files.createDirectories(root().resolve("rt"));
    Files.write(root().resolve("rt/empty"), new byte[0]);
    Files.writeString(root().resolve("rt/small.txt"), "small\n");
    TestSupport.randomFile(root().resolve("rt/large.bin"), 128L << 20, 11);
    ok("backup", "rt");
    ClusterProcesses.Result r = ok("restore", "rt", "--to", "back");
    assertThat(r.out()).contains("3 of 3 files restored");
    for (String n : List.of("empty", "small.txt", "large.bin")) {
      // "back" did not exist, so (as with cp -r) it becomes the restored folder.
      assertThat(Files.mismatch(root().resolve("back/" + n), root().resolve("rt/" + n))).as(n).isEqualTo(-1L);
    }
    assertThat(TestSupport.filesUnder(root())).noneMatch(n -> n.contains(".bk-part"));
  }

  @Test
  void versionsAreKeptAndRestoredSeparately() throws Exception {
    Path f = root().resolve("notes.txt");
    Files.writeString(f, "first\n");
    ok("backup", "notes.txt");
    assertThat(ok("backup", "notes.txt").out()).contains("unchanged notes.txt");
    Files.writeString(f, "second, longer\n");
    assertThat(ok("backup", "notes.txt").out()).contains("version 2");
    assertThat(entry("notes.txt").getJsonArray("versions")).hasSize(2);

    ok("restore", "notes.txt", "--version", "1", "--to", "notes-v1.txt");
    ok("restore", "notes.txt", "--to", "notes-latest.txt");
    assertThat(Files.readString(root().resolve("notes-v1.txt"))).isEqualTo("first\n");
    assertThat(Files.readString(root().resolve("notes-latest.txt"))).isEqualTo("second, longer\n");

    // An existing file with other content is kept unless --force; the same content is left alone.
    ClusterProcesses.Result refused = cluster.client("restore", "notes.txt", "--version", "1");
    assertThat(refused.exit()).isEqualTo(11);
    assertThat(refused.err()).contains("--force");
    assertThat(Files.readString(f)).isEqualTo("second, longer\n");
    assertThat(ok("restore", "notes.txt").out()).contains("unchanged");
    ok("restore", "notes.txt", "--version", "1", "--force");
    assertThat(Files.readString(f)).isEqualTo("first\n");
  }

  @Test
  void aFolderOfNestedFilesIsRestoredIntoAnotherFolder() throws Exception {
    Files.createDirectories(root().resolve("tree/a/b"));
    Files.writeString(root().resolve("tree/top.txt"), "top");
    Files.writeString(root().resolve("tree/a/mid.txt"), "mid");
    Files.writeString(root().resolve("tree/a/b/leaf é.txt"), "leaf");
    ok("backup", "tree");
    Files.createDirectories(root().resolve("elsewhere"));
    ok("restore", "tree", "--to", "elsewhere");
    assertThat(TestSupport.filesUnder(root().resolve("elsewhere")))
        .containsExactly("tree/a/b/leaf é.txt", "tree/a/mid.txt", "tree/top.txt");
    ok("restore", "tree/a", "--to", "fresh");
    assertThat(TestSupport.filesUnder(root().resolve("fresh"))).containsExactly("b/leaf é.txt", "mid.txt");
    assertThat(Files.readString(root().resolve("fresh/b/leaf é.txt"))).isEqualTo("leaf");
  }

  @Test
  void replicationChangesReachTheDisks() throws Exception {
    TestSupport.randomFile(root().resolve("rep.bin"), 3 << 20, 5);
    ok("backup", "rep.bin");
    assertThat(onDisk("rep.bin", 1)).hasSize(2);
    assertThat(ok("replicas", "rep.bin", "3").out()).contains("copied to 1 more server");
    assertThat(onDisk("rep.bin", 1)).hasSize(3).containsExactlyInAnyOrderElementsOf(holders("rep.bin", 1));
    for (int id : onDisk("rep.bin", 1)) {
      assertThat(Files.mismatch(cluster.serverRoot(id).resolve("files/rep.bin.v1"), root().resolve("rep.bin"))).isEqualTo(-1L);
    }
    assertThat(ok("replicas", "rep.bin", "1").out()).contains("removed 2 copies");
    assertThat(onDisk("rep.bin", 1)).hasSize(1).containsExactlyElementsOf(holders("rep.bin", 1));
    assertThat(entry("rep.bin").getInteger("replicas")).isEqualTo(1);

    ClusterProcesses.Result tooMany = cluster.client("replicas", "rep.bin", "5");
    assertThat(tooMany.exit()).isEqualTo(4);
    ClusterProcesses.Result zero = cluster.client("replicas", "rep.bin", "0");
    assertThat(zero.exit()).isEqualTo(2);
    ClusterProcesses.Result nan = cluster.client("replicas", "rep.bin", "three");
    assertThat(nan.exit()).isEqualTo(2);
    assertThat(nan.err().strip()).startsWith("error: ").doesNotContain("\n");
    assertThat(onDisk("rep.bin", 1)).hasSize(1);
  }

  @Test
  void aRestoreSurvivesTheDeathOfTheReplicaItStartedFrom() throws Exception {
    Path f = TestSupport.randomFile(root().resolve("survive.bin"), 1L << 30, 21);
    ok("backup", "survive.bin");
    ClusterProcesses.Running restore = cluster.clientProcess("restore", "survive.bin", "--to", "survived.bin");
    int sender = -1;
    long deadline = System.currentTimeMillis() + 60_000;
    while (sender < 0 && System.currentTimeMillis() < deadline) {
      try (var s = Files.list(root())) {
        Path part = s.filter(p -> p.getFileName().toString().startsWith(".bk-part-")).findFirst().orElse(null);
        if (part != null && Files.size(part) > (50L << 20)) {
          for (Object o : cluster.fastStatus().getJsonArray("servers")) {
            JsonObject srv = (JsonObject) o;
            if (srv.getInteger("transfers") > 0 && holders("survive.bin", 1).contains(srv.getInteger("id"))) {
              sender = srv.getInteger("id");
            }
          }
        }
      } catch (java.nio.file.NoSuchFileException raced) {
        // the part file was renamed while listing
      }
      Thread.sleep(5);
    }
    assertThat(sender).as("the server sending the restore").isPositive();
    cluster.killServer(sender);
    ClusterProcesses.Result r = restore.await();
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err()).contains("note: survive.bin:").contains("going on from server");
    assertThat(Files.mismatch(root().resolve("survived.bin"), f)).isEqualTo(-1L);
    assertThat(TestSupport.filesUnder(root())).noneMatch(n -> n.contains(".bk-part"));
  }

  @Test
  void deleteLeavesNoCopyAnywhereEvenOnAServerThatWasDown() throws Exception {
    Files.createDirectories(root().resolve("gone"));
    Files.writeString(root().resolve("gone/one.txt"), "one");
    Files.writeString(root().resolve("gone/two.txt"), "two");
    ok("backup", "gone", "--replicas", "4");
    cluster.killServer(3);
    cluster.awaitAlive(3, Duration.ofSeconds(10));
    ClusterProcesses.Result r = ok("delete", "gone");
    assertThat(r.out()).contains("deleted gone/one.txt version 1").contains("1 server down now will delete its copy");
    assertThat(entry("gone/one.txt")).isNull();
    for (int id : List.of(1, 2, 4)) {
      assertThat(TestSupport.filesUnder(cluster.serverRoot(id).resolve("files"))).noneMatch(n -> n.startsWith("gone/"));
    }
    assertThat(TestSupport.filesUnder(cluster.serverRoot(3).resolve("files"))).anyMatch(n -> n.startsWith("gone/"));
    cluster.startServer(3);
    cluster.awaitAlive(4, Duration.ofSeconds(60));
    long end = System.currentTimeMillis() + 10_000;
    while (System.currentTimeMillis() < end
        && TestSupport.filesUnder(cluster.serverRoot(3).resolve("files")).stream().anyMatch(n -> n.startsWith("gone/"))) {
      Thread.sleep(100);
    }
    assertThat(TestSupport.filesUnder(cluster.serverRoot(3).resolve("files"))).noneMatch(n -> n.startsWith("gone/"));
  }

  @Test
  void verifyFindsAFlippedByteOnDisk() throws Exception {
    TestSupport.randomFile(root().resolve("rot.bin"), 1 << 20, 33);
    ok("backup", "rot.bin");
    assertThat(ok("verify", "rot.bin").out()).contains("verified 2 copies of 1 file: all good");
    int victim = holders("rot.bin", 1).get(0);
    try (RandomAccessFile raf = new RandomAccessFile(cluster.serverRoot(victim).resolve("files/rot.bin.v1").toFile(), "rw")) {
      raf.seek(12345);
      int b = raf.read();
      raf.seek(12345);
      raf.write(b ^ 0x01);
    }
    ClusterProcesses.Result r = cluster.client("verify", "rot.bin");
    assertThat(r.exit()).isEqualTo(5);
    assertThat(r.out()).contains("BAD").contains("rot.bin version 1 on server " + victim).contains("1 problem");
  }

  @Test
  void verifyLocalReportsChangedAndNewFiles() throws Exception {
    Files.createDirectories(root().resolve("loc"));
    Files.writeString(root().resolve("loc/same.txt"), "same");
    Files.writeString(root().resolve("loc/edit.txt"), "before");
    ok("backup", "loc");
    assertThat(ok("verify", "--local", "loc").out()).contains("2 unchanged, 0 changed, 0 new");
    Files.writeString(root().resolve("loc/edit.txt"), "after!");
    Files.writeString(root().resolve("loc/new.txt"), "new");
    ClusterProcesses.Result r = cluster.client("verify", "--local", "loc");
    assertThat(r.exit()).isEqualTo(12);
    assertThat(r.out()).contains("changed    loc/edit.txt").contains("new        loc/new.txt")
        .contains("1 unchanged, 1 changed, 1 new");
  }

  @Test
  void badInputIsRefusedWithOneLineAndNothingIsTouched() throws Exception {
    Files.writeString(root().resolve("keep.txt"), "keep");
    ok("backup", "keep.txt");
    expect(3, "nothing backed up", "restore", "no-such-file");
    expect(3, "has no version 7", "restore", "keep.txt", "--version", "7");
    expect(3, "nothing backed up", "delete", "no-such-file");
    expect(3, "has no version 9", "delete", "keep.txt", "--version", "9");
    expect(2, "leaves the client root", "restore", "../keep.txt");
    Files.createDirectories(root().resolve("hollow/empty"));
    expect(3, "has no files", "backup", "hollow");
    // A file is in the way of the folder the restore would need.
    expect(10, "cannot create the folder", "restore", "keep.txt", "--to", "keep.txt/inside.txt");
    assertThat(Files.readString(root().resolve("keep.txt"))).isEqualTo("keep");
    JsonArray versions = entry("keep.txt").getJsonArray("versions");
    assertThat(versions).hasSize(1);
    assertThat(onDisk("keep.txt", 1)).hasSize(2);
  }

  private static void expect(int code, String text, String... args) throws Exception {
    ClusterProcesses.Result r = cluster.client(args);
    assertThat(r.exit()).as(String.join(" ", args) + " -> " + r.err()).isEqualTo(code);
    assertThat(r.err().strip()).startsWith("error: ").contains(text).doesNotContain("\n");
  }
}
