package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.storage.BlobStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalHashesTest {
  @TempDir
  Path dir;

  /** A read that began long after the file last changed (what a file left alone looks like). */
  private static long longAfter() {
    return System.currentTimeMillis() + LocalHashes.SETTLE_SECONDS * 1000L + 60_000;
  }

  private Path file(String name, String content) throws Exception {
    Path p = dir.resolve("root").resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
    return p;
  }

  /** Records the file as read long after it last changed; its stat. */
  private static LocalHashes.Stat recordSettled(LocalHashes h, String name, Path p) throws Exception {
    LocalHashes.Stat s = LocalHashes.stat(p);
    h.record(name, s, s, longAfter(), BlobStore.sha256(p));
    return s;
  }

  private LocalHashes load() {
    return LocalHashes.load(dir.resolve("cache"), dir.resolve("root"), LocalHashes.SETTLE_SECONDS);
  }

  @Test
  void aRecordIsKeptAcrossRunsAndMatchesOnlyTheSameStat() throws Exception {
    Path p = file("a/b.txt", "hello");
    LocalHashes h = load();
    LocalHashes.Stat s = LocalHashes.stat(p);
    assertThat(h.lookup("a/b.txt", s)).isNull();
    h.record("a/b.txt", s, LocalHashes.stat(p), longAfter(), BlobStore.sha256(p));
    h.save();

    LocalHashes again = load();
    assertThat(again.lookup("a/b.txt", LocalHashes.stat(p))).isEqualTo(BlobStore.sha256(p));
    assertThat(again.lookup("a/other.txt", LocalHashes.stat(p))).isNull();

    // backup --reread: every file is read, whatever its record; the records stay.
    LocalHashes reread = load().rereading();
    assertThat(reread.lookup("a/b.txt", LocalHashes.stat(p))).isNull();
    reread.save();
    assertThat(load().lookup("a/b.txt", LocalHashes.stat(p))).isEqualTo(BlobStore.sha256(p));
  }

  /**
   * The worst case: new bytes of the same size, and the modification time set back to what
   * it was (as cp -p or rsync -t do). The change time still moved, so the record no longer
   * matches and the file is read again.
   */
  @Test
  void aFileRewrittenWithTheSameSizeAndItsOldModificationTimeIsNotMatched() throws Exception {
    Path p = file("f.txt", "first");
    LocalHashes h = load();
    LocalHashes.Stat s = recordSettled(h, "f.txt", p);
    FileTime mtime = Files.getLastModifiedTime(p);
    Thread.sleep(50); // past the file system clock's tick, so the change time can move
    Files.writeString(p, "other");
    Files.setLastModifiedTime(p, mtime);
    LocalHashes.Stat now = LocalHashes.stat(p);
    assertThat(now.size()).isEqualTo(s.size());
    assertThat(now.modifiedNanos()).isEqualTo(s.modifiedNanos());
    assertThat(h.lookup("f.txt", now)).isNull();
  }

  @Test
  void aFileChangedJustBeforeOrWhileItWasReadIsNotRecorded() throws Exception {
    Path p = file("recent.txt", "fresh");
    LocalHashes h = load();
    LocalHashes.Stat s = LocalHashes.stat(p);
    // Read right after it was written (or within the settling time): a write in the same
    // clock tick, or through a memory mapping, could go unseen.
    h.record("recent.txt", s, s, System.currentTimeMillis(), BlobStore.sha256(p));
    assertThat(h.lookup("recent.txt", s)).isNull();
    h.record("recent.txt", s, s, System.currentTimeMillis() + (LocalHashes.SETTLE_SECONDS - 5) * 1000L,
        BlobStore.sha256(p));
    assertThat(h.lookup("recent.txt", s)).isNull();
    // The file moved while it was read.
    LocalHashes.Stat moved = new LocalHashes.Stat(s.size(), s.modifiedNanos() + 1, s.changedNanos() + 1, s.inode(),
        s.device());
    h.record("recent.txt", s, moved, longAfter(), BlobStore.sha256(p));
    assertThat(h.lookup("recent.txt", s)).isNull();
    assertThat(h.lookup("recent.txt", moved)).isNull();
  }

  @Test
  void recordsOfFilesGoneFromTheRootAreDropped() throws Exception {
    Path keep = file("keep.txt", "keep");
    Path gone = file("gone.txt", "gone");
    LocalHashes h = load();
    recordSettled(h, "keep.txt", keep);
    recordSettled(h, "gone.txt", gone);
    h.save();
    Files.delete(gone);
    LocalHashes next = load();
    assertThat(next.size()).isEqualTo(2);
    // A run that listed the whole root (without looking either file up) found only keep.txt.
    next.listed("", List.of("keep.txt"));
    next.save();
    assertThat(load().size()).isEqualTo(1);
    assertThat(load().lookup("keep.txt", LocalHashes.stat(keep))).isEqualTo(BlobStore.sha256(keep));
  }

  @Test
  void aRunDropsOnlyTheRecordsUnderWhatItListedAndLooksAtNoOtherFile() throws Exception {
    Path a = file("a/one.txt", "one");
    Path b = file("a/b/two.txt", "two");
    Path c = file("ab/three.txt", "three");
    Path d = file("d/four.txt", "four");
    LocalHashes h = load();
    recordSettled(h, "a/one.txt", a);
    recordSettled(h, "a/b/two.txt", b);
    recordSettled(h, "ab/three.txt", c);
    recordSettled(h, "d/four.txt", d);
    h.save();
    Files.delete(b);
    Files.delete(c);
    // A backup of the folder a (its one file left) and of d/four.txt alone: two.txt, under
    // a and not listed, is gone; three.txt, gone too but under no folder this run listed
    // (ab is not under a), keeps its record: the run does not look at the disk for it.
    LocalHashes next = load();
    next.listed("a", List.of("a/one.txt", "d/four.txt"));
    next.listed("d/four.txt", List.of("a/one.txt", "d/four.txt"));
    next.save();
    LocalHashes after = load();
    assertThat(after.size()).isEqualTo(3);
    assertThat(after.lookup("a/one.txt", LocalHashes.stat(a))).isEqualTo(BlobStore.sha256(a));
    assertThat(after.lookup("d/four.txt", LocalHashes.stat(d))).isEqualTo(BlobStore.sha256(d));
    // A later listing of the whole root drops the last record of a file gone.
    after.listed("", List.of("a/one.txt", "d/four.txt"));
    after.save();
    assertThat(load().size()).isEqualTo(2);
  }

  @Test
  void aDamagedOrForeignRecordFileOnlyMeansFilesAreReadAgain() throws Exception {
    Path p = file("x.txt", "x");
    LocalHashes h = load();
    LocalHashes.Stat s = recordSettled(h, "x.txt", p);
    h.save();
    Path records;
    try (var files = Files.list(dir.resolve("cache"))) {
      records = files.findFirst().orElseThrow();
    }
    String text = Files.readString(records);
    Files.writeString(records, text.replace("\t" + s.size() + "\t", "\tnot-a-number\t") + "half a line\n");
    assertThat(load().lookup("x.txt", s)).isNull();
    Files.write(records, new byte[] {0, 1, 2, (byte) 0xff});
    assertThat(load().size()).isZero();
    // Another root's records are another file.
    assertThat(LocalHashes.load(dir.resolve("cache"), dir.resolve("elsewhere"), LocalHashes.SETTLE_SECONDS).size()).isZero();
  }

  @Test
  void withoutACacheFolderNothingIsRecorded() throws Exception {
    Path p = file("n.txt", "n");
    LocalHashes h = LocalHashes.load(null, dir.resolve("root"), LocalHashes.SETTLE_SECONDS);
    LocalHashes.Stat s = recordSettled(h, "n.txt", p);
    assertThat(h.lookup("n.txt", s)).isNull();
    h.save();
    assertThat(dir.resolve("cache")).doesNotExist();
    assertThat(new String(Files.readAllBytes(p), StandardCharsets.UTF_8)).isEqualTo("n");
  }

  /** A file reached through a link is read through it: its record is the file's, not the link's. */
  @Test
  void aLinkedFileIsRecordedByTheFileItReaches() throws Exception {
    Path target = file("real.txt", "12345");
    Path link = dir.resolve("root").resolve("link.txt");
    Files.createSymbolicLink(link, target);
    LocalHashes h = load();
    assertThat(recordSettled(h, "link.txt", link)).isEqualTo(LocalHashes.stat(target));
    Thread.sleep(50);
    Files.writeString(target, "54321");
    assertThat(h.lookup("link.txt", LocalHashes.stat(link))).isNull();
  }
}
