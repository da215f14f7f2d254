package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobStoreTest {
  @TempDir
  Path root;

  @Test
  void commitMovesTheFileIntoPlaceWithItsMetadata() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Path tmp = store.tempFile("t1-0");
    Files.writeString(tmp, "hello");
    ReplicaMeta meta = new ReplicaMeta("photos/été/a.txt", 2, 5, "abc", 123, 2);
    Path target = store.commit(tmp, meta);
    assertThat(target).isEqualTo(root.resolve("files/photos/été/a.txt.v2"));
    assertThat(Files.readString(target)).isEqualTo("hello");
    assertThat(Files.exists(tmp)).isFalse();
    assertThat(Files.readString(store.metaPath("photos/été/a.txt", 2))).contains("\"sha256\" : \"abc\"");
    assertThat(store.inventory()).containsExactly(meta);
    assertThat(store.tempCount()).isZero();
  }

  @Test
  void openRemovesWhatACrashLeftHalfWritten() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Files.writeString(store.tempFile("abc-0"), "partial");
    new BlobStore(root).open();
    assertThat(store.tempCount()).isZero();
  }

  @Test
  void namesCannotLeaveTheRoot() {
    BlobStore store = new BlobStore(root);
    assertThatThrownBy(() -> store.replicaPath("../x", 1)).hasMessageContaining("invalid name");
    assertThatThrownBy(() -> store.tempFile("../../etc")).hasMessageContaining("bad transfer id");
  }

  @Test
  void inventorySkipsTornMetadata() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Files.createDirectories(root.resolve("files"));
    Files.writeString(root.resolve("files/x.v1.meta"), "{not json");
    Files.writeString(root.resolve("files/x.v1"), "x");
    assertThat(store.inventory()).isEmpty();
    assertThat(store.listCopies().unreadable()).containsExactly(new BlobStore.Unreadable("x", 1, 1));
  }

  @Test
  void aListingNamesCopiesWithoutReadableMetadataByTheirPath() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    ReplicaMeta good = new ReplicaMeta("a/good.txt", 3, 4, "abc", 1, 2);
    Path tmp = store.tempFile("t-0");
    Files.writeString(tmp, "good");
    store.commit(tmp, good);
    Files.createDirectories(root.resolve("files/a/b"));
    Files.writeString(root.resolve("files/a/b/torn.txt.v7"), "torn!");
    Files.writeString(root.resolve("files/a/b/torn.txt.v7.meta"), "{\"v\": 1, \"na");
    Files.writeString(root.resolve("files/a/bare.v12"), "no meta");
    Files.writeString(root.resolve("files/a/notes.txt"), "not a replica's name");
    Files.writeString(root.resolve("files/a/gone.v2.meta"), "{not json, and no bytes beside it");
    Files.createDirectories(root.resolve("files/a/dir.v5"));
    // Rotted into bytes that are not text, and rotted into another version's name.
    Files.writeString(root.resolve("files/a/bin.v1"), "bin");
    Files.write(root.resolve("files/a/bin.v1.meta"), new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'});
    Files.writeString(root.resolve("files/a/other.v2"), "other");
    Files.writeString(root.resolve("files/a/other.v3"), "three");
    Files.writeString(root.resolve("files/a/other.v2.meta"),
        new ReplicaMeta("a/other", 3, 5, "abc", 1, 2).toJson().encode());
    Files.writeString(root.resolve("files/a/other.v3.meta"),
        new ReplicaMeta("a/other", 3, 5, "abc", 1, 2).toJson().encode());
    BlobStore.Listing listing = store.listCopies();
    assertThat(listing.copies()).containsExactlyInAnyOrder(good, new ReplicaMeta("a/other", 3, 5, "abc", 1, 2));
    assertThat(listing.unreadable()).containsExactlyInAnyOrder(new BlobStore.Unreadable("a/b/torn.txt", 7, 5),
        new BlobStore.Unreadable("a/bare", 12, 7), new BlobStore.Unreadable("a/bin", 1, 3),
        new BlobStore.Unreadable("a/other", 2, 5));
    assertThatThrownBy(() -> store.readMeta("a/other", 2)).hasMessageContaining("damaged");
    assertThatThrownBy(() -> store.readMeta("a/bin", 1)).hasMessageContaining("damaged");

    // Its metadata made anew only while it is still unreadable and the bytes have the size given.
    ReplicaMeta fixed = new ReplicaMeta("a/b/torn.txt", 7, 5, "def", 9, 1);
    assertThat(store.repairMeta(null, new ReplicaMeta("a/b/torn.txt", 7, 6, "def", 9, 1))).isFalse();
    assertThat(store.repairMeta(null, fixed)).isTrue();
    assertThat(store.readMeta("a/b/torn.txt", 7)).isEqualTo(fixed);
    assertThat(store.repairMeta(null, new ReplicaMeta("a/b/torn.txt", 7, 5, "0ff", 9, 1))).isFalse();
    assertThat(store.repairMeta(null, new ReplicaMeta("a/bare", 12, 7, "123", 9, 1))).isTrue();
    assertThat(store.repairMeta(null, new ReplicaMeta("a/bin", 1, 3, "456", 9, 1))).isTrue();
    assertThat(store.repairMeta(null, new ReplicaMeta("a/other", 2, 5, "789", 9, 1))).isTrue();
    assertThat(store.listCopies().unreadable()).isEmpty();
    assertThat(store.tempCount()).isZero();
  }

  @Test
  void aCopyIsRemovedOnlyIfItIsStillTheOneNamed() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    ReplicaMeta meta = new ReplicaMeta("r/x.bin", 4, 3, "abc", 100, 2);
    Path tmp = store.tempFile("t-1");
    Files.writeString(tmp, "xyz");
    assertThat(store.place(tmp, withMeta(store, tmp, meta))).isFalse();
    assertThat(store.remove("r/x.bin", 4, "abc", 99L)).isEqualTo(-1L);
    assertThat(store.remove("r/x.bin", 4, "abd", 100L)).isEqualTo(-1L);
    assertThat(store.inventory()).containsExactly(meta);
    Path again = store.tempFile("t-2");
    Files.writeString(again, "xyz");
    assertThat(store.place(again, withMeta(store, again, meta))).isTrue();
    assertThat(store.remove("r/x.bin", 4, "abc", 100L)).isEqualTo(3L);
    assertThat(store.inventory()).isEmpty();
    assertThat(store.remove("r/x.bin", 4, null, null)).isEqualTo(-1L);
  }

  @Test
  void copiesSetAsideAreCountedWithoutTheirMetadataAndLeaveTheCopiesHeld() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    assertThat(store.countAside()).isZero();
    copies(store, "d/a.bin", 3);
    assertThat(store.setAside("d/a.bin", 1)).isEqualTo(1L);
    assertThat(store.setAside("d/a.bin", 3)).isEqualTo(1L);
    assertThat(store.setAside("d/a.bin", 9)).isEqualTo(-1L);
    assertThat(store.countAside()).isEqualTo(2);
    assertThat(store.inventory()).extracting(ReplicaMeta::version).containsExactly(2L);
    Files.delete(root.resolve("damaged/d/a.bin.v1"));
    assertThat(store.countAside()).isEqualTo(1);
  }

  private static ReplicaMeta withMeta(BlobStore store, Path tmp, ReplicaMeta meta) throws Exception {
    store.writeMeta(tmp, meta);
    return meta;
  }

  /** Puts copies of {@code name} versions 1..n in place, as a server does. */
  private static void copies(BlobStore store, String name, int n) throws Exception {
    for (int v = 1; v <= n; v++) {
      Path tmp = store.tempFile("t" + v);
      Files.writeString(tmp, "x");
      store.commit(tmp, new ReplicaMeta(name, v, 1, "abc", 123, 2));
    }
  }

  @Test
  void aCursorReadsTheCopiesOnlyAsTheyAreAskedForAndFindsEachOnce() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    copies(store, "a/deep/x", 40);
    copies(store, "b/y", 40);
    copies(store, "z", 20);
    // In pages of 7, every copy once, across folders and levels.
    java.util.List<ReplicaMeta> seen = new java.util.ArrayList<>();
    try (BlobStore.Cursor c = store.cursor()) {
      BlobStore.Page page;
      do {
        page = c.next(7);
        assertThat(page.size()).isLessThanOrEqualTo(7);
        seen.addAll(page.copies());
      } while (!page.end());
    }
    java.util.List<ReplicaMeta> all = new java.util.ArrayList<>();
    for (int v = 1; v <= 40; v++) {
      all.add(new ReplicaMeta("a/deep/x", v, 1, "abc", 123, 2));
      all.add(new ReplicaMeta("b/y", v, 1, "abc", 123, 2));
      if (v <= 20) {
        all.add(new ReplicaMeta("z", v, 1, "abc", 123, 2));
      }
    }
    assertThat(seen).hasSize(100).containsExactlyInAnyOrderElementsOf(all);
    // Lazily: what goes after the first page was read is not found (a walk that had read
    // every copy at its start, in memory, would still list them all).
    try (BlobStore.Cursor c = store.cursor()) {
      BlobStore.Page first = c.next(10);
      assertThat(first.copies()).hasSize(10);
      try (var walk = Files.walk(root.resolve("files"))) {
        for (Path p : walk.filter(Files::isRegularFile).toList()) {
          Files.delete(p);
        }
      }
      BlobStore.Page rest = c.next(1_000);
      assertThat(rest.copies()).isEmpty();
      assertThat(rest.unreadable()).isEmpty();
      assertThat(rest.end()).isTrue();
    }
  }

  @Test
  void aCursorClosedBeforeItsWalkEndedFailsRatherThanLookingEnded() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    copies(store, "a/x", 5);
    BlobStore.Cursor c = store.cursor();
    assertThat(c.next(2).end()).isFalse();
    c.close();
    assertThatThrownBy(() -> c.next(2)).isInstanceOf(java.io.IOException.class).hasMessageContaining("ended");
  }

  @Test
  void aFolderThatCannotBeOpenedToBeForcedIsAnErrorWhereFoldersCanBe() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open(); // (finds that folders can be opened here)
    store.fsyncDir(root.resolve("files"));
    // Any failure to open one is the force's failure, not a force taken as done.
    assertThatThrownBy(() -> store.fsyncDir(root.resolve("files/not-there")))
        .isInstanceOf(java.nio.file.NoSuchFileException.class);
  }

  @Test
  void theFoldersMadeForACopyAreForcedInTheirParentsAndOnlyThose() throws Exception {
    List<Path> forced = new java.util.concurrent.CopyOnWriteArrayList<>();
    BlobStore store = new BlobStore(root, forced::add);
    store.open();
    Path files = root.toAbsolutePath().normalize().resolve("files");
    Path tmp = store.tempFile("t1-0");
    Files.writeString(tmp, "hello");
    store.commit(tmp, new ReplicaMeta("photos/2024/a.jpg", 1, 5, BlobStore.sha256("hello".getBytes()), 1L, 2));
    // Its folder (the moves in it), then the entry of each folder made in its parent.
    assertThat(forced).containsExactly(files.resolve("photos/2024"), files.resolve("photos"), files);
    forced.clear();
    tmp = store.tempFile("t2-0");
    Files.writeString(tmp, "hello");
    store.commit(tmp, new ReplicaMeta("photos/2024/b.jpg", 1, 5, BlobStore.sha256("hello".getBytes()), 1L, 2));
    assertThat(forced).containsExactly(files.resolve("photos/2024"));
  }

  @Test
  void aCopySetAsideIsForcedWhereItWentAndWhereItWas() throws Exception {
    List<Path> forced = new java.util.concurrent.CopyOnWriteArrayList<>();
    BlobStore store = new BlobStore(root, forced::add);
    store.open();
    Path base = root.toAbsolutePath().normalize();
    Path tmp = store.tempFile("t1-0");
    Files.writeString(tmp, "hello");
    store.commit(tmp, new ReplicaMeta("photos/2024/a.jpg", 1, 5, BlobStore.sha256("hello".getBytes()), 1L, 2));
    forced.clear();
    assertThat(store.setAside("photos/2024/a.jpg", 1)).isEqualTo(5);
    Path damaged = base.resolve(BlobStore.DAMAGED);
    assertThat(forced).containsExactly(damaged.resolve("photos/2024"), damaged.resolve("photos"), damaged, base,
        base.resolve("files/photos/2024"));
  }
}
