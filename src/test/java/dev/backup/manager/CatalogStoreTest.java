package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog's snapshot and journal: what is saved comes back, whatever the moment of a crash. */
class CatalogStoreTest {
  @TempDir
  Path dir;

  private static Catalog.Version v(long n, int... servers) {
    return new Catalog.Version(n, 100 * n, "sha" + n, 1000 + n, java.util.Arrays.stream(servers).boxed().toList());
  }

  private static void save(CatalogStore store, Catalog c) throws Exception {
    List<JsonObject> changes = c.drainChanges();
    if (store.wantsCompaction()) {
      store.compact(c.freeze());
    } else {
      store.append(CatalogStore.lines(changes));
    }
  }

  /** Records a new version of {@code name} on servers 1 and 2 and saves the change. */
  private static void backUp(CatalogStore store, Catalog c, String name) throws Exception {
    c.commit(name, 2, v(c.reserveVersion(name), 1, 2));
    save(store, c);
  }

  @Test
  void aSnapshotWhoseFolderCannotBeForcedFailsItsSaveAndTheNextWritesItAgain() throws Exception {
    // The folder's force after the snapshot's move fails (too many open files, say): its
    // new name may not be on disk, so the save fails, and the next is a snapshot again.
    try (CatalogStore store = new CatalogStore(dir, 2_000)) {
      Catalog c = store.open();
      for (int i = 0; store.generation() == 0 && i < 1_000; i++) {
        backUp(store, c, "f" + i);
      }
      long gen = store.generation();
      assertThat(gen).as("compacted once").isEqualTo(1);
      while (!store.wantsCompaction()) {
        backUp(store, c, "g" + store.journalBytes());
      }
      store.forceFolder = d -> {
        throw new java.io.IOException("Too many open files");
      };
      c.commit("late", 1, v(c.reserveVersion("late"), 3));
      c.drainChanges();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> store.compact(c.freeze()))
          .hasMessageContaining("Too many open files");
      assertThat(store.wantsCompaction()).as("the next save is a snapshot").isTrue();
      store.forceFolder = null;
      store.compact(c.freeze());
      assertThat(store.wantsCompaction()).isFalse();
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(back.version("late", 1).servers()).containsExactly(3);
      assertThat(back.get("f0")).isNotNull();
    }
  }

  @Test
  void everyKindOfChangeComesBackAfterARestart() throws Exception {
    Catalog expected;
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      c.commit("a.txt", 2, v(c.reserveVersion("a.txt"), 1, 2));
      c.commit("b/c.bin", 3, v(c.reserveVersion("b/c.bin"), 1, 2, 3));
      save(store, c);
      c.commit("a.txt", 2, v(c.reserveVersion("a.txt"), 2, 3));
      c.removeHolder("b/c.bin", 1, 3);
      c.addHolder("b/c.bin", 1, 4);
      c.setReplicas("b/c.bin", 2);
      c.removeVersion("a.txt", 1);
      c.reserveVersion("gone.txt");
      c.commit("gone.txt", 1, v(1, 1));
      save(store, c);
      c.removeVersion("gone.txt", 1);
      save(store, c);
      expected = c;
    }
    assertThat(Files.exists(dir.resolve(CatalogStore.SNAPSHOT))).isFalse();
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(back.snapshot()).isEqualTo(expected.snapshot());
      assertThat(back.buried("a.txt", 1)).isTrue();
      assertThat(back.get("gone.txt")).isNull();
      assertThat(back.reserveVersion("gone.txt")).isEqualTo(2);
    }
  }

  @Test
  void aGrownJournalBecomesANewSnapshotAndAnEmptyJournal() throws Exception {
    Catalog expected;
    try (CatalogStore store = new CatalogStore(dir, 2_000)) {
      Catalog c = store.open();
      for (int i = 0; i < 200; i++) {
        String n = "f" + i;
        backUp(store, c, n);
      }
      expected = c;
      assertThat(store.generation()).isGreaterThan(1);
      assertThat(store.journalBytes()).isLessThanOrEqualTo(Files.size(dir.resolve(CatalogStore.SNAPSHOT)) + 200);
    }
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".log")).toList()).hasSize(1);
    }
    try (CatalogStore store = new CatalogStore(dir, 2_000)) {
      assertThat(store.open().snapshot()).isEqualTo(expected.snapshot());
    }
  }

  @Test
  void aLastLineCutShortByACrashIsDroppedAndTheRestKept() throws Exception {
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      backUp(store, c, "kept.txt");
    }
    Path journal = dir.resolve("catalog-0.log");
    Files.write(journal, "{\"name\":\"half".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      assertThat(c.get("kept.txt")).isNotNull();
      assertThat(c.get("half")).isNull();
      // Appending goes on after the last whole line, not after the torn one.
      backUp(store, c, "after.txt");
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      assertThat(c.get("kept.txt")).isNotNull();
      assertThat(c.get("after.txt")).isNotNull();
    }
  }

  @Test
  void afterAFailedAppendTheNextSaveIsASnapshotWithTheChangesItLost() throws Exception {
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      backUp(store, c, "kept.txt");
      // The disk fails in the middle of an append: part of a line is in the journal, and
      // nothing more can be written to it.
      Files.write(dir.resolve("catalog-0.log"), "{\"name\":\"lo".getBytes(StandardCharsets.UTF_8),
          StandardOpenOption.APPEND);
      store.close();
      c.commit("lost.txt", 2, v(c.reserveVersion("lost.txt"), 1, 2));
      assertThatThrownBy(() -> save(store, c)).isInstanceOf(java.io.IOException.class);
      // The change stays in memory; the next save writes all of it as a new snapshot (not
      // after the fragment, where the next start would have cut it off).
      assertThat(store.wantsCompaction()).isTrue();
      backUp(store, c, "next.txt");
      assertThat(store.generation()).isEqualTo(1);
      assertThat(store.wantsCompaction()).isFalse();
      backUp(store, c, "after.txt");
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      for (String name : List.of("kept.txt", "lost.txt", "next.txt", "after.txt")) {
        assertThat(c.get(name)).as(name).isNotNull();
      }
      assertThat(c.reserveVersion("lost.txt")).isEqualTo(2);
    }
  }

  @Test
  void aJournalOfAnotherGenerationIsStaleAndIgnored() throws Exception {
    // A crash right after a new snapshot was renamed into place, before the old journal went.
    Catalog c = new Catalog();
    c.commit("now.txt", 2, v(c.reserveVersion("now.txt"), 1, 2));
    Files.writeString(dir.resolve(CatalogStore.SNAPSHOT), c.snapshot().put("gen", 3).encode());
    Catalog old = new Catalog();
    old.commit("now.txt", 2, v(old.reserveVersion("now.txt"), 4));
    Files.write(dir.resolve("catalog-2.log"), CatalogStore.lines(old.drainChanges()));
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(back.get("now.txt").latest().servers()).containsExactly(1, 2);
      assertThat(store.generation()).isEqualTo(3);
    }
    assertThat(Files.exists(dir.resolve("catalog-2.log"))).isFalse();
  }

  @Test
  void readingBesideARunningManagerChangesNothing() throws Exception {
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      backUp(store, c, "x/y.txt");
      long before = Files.size(dir.resolve("catalog-0.log"));
      assertThat(CatalogStore.read(dir).namesUnder("x")).containsExactly("x/y.txt");
      assertThat(Files.size(dir.resolve("catalog-0.log"))).isEqualTo(before);
    }
  }

  @Test
  void aSnapshotIsTheCatalogAsItWasWhenItsViewWasTakenWhateverChangesAfter() throws Exception {
    // The manager takes the view on its event loop and writes it on a worker while
    // backups go on changing the catalog.
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      for (int i = 0; i < 50; i++) {
        c.commit("f" + i, 2, v(c.reserveVersion("f" + i), 1, 2));
      }
      c.commit("f1", 2, v(c.reserveVersion("f1"), 2, 3));
      c.removeVersion("f2", 1);
      c.reserveVersion("never.txt");
      // g's versions 1-3 removed (one range), 4 and 5 kept
      for (int i = 0; i < 5; i++) {
        c.commit("g", 2, v(c.reserveVersion("g"), 1, 2));
      }
      for (long gv = 1; gv <= 3; gv++) {
        c.removeVersion("g", gv);
      }
      c.drainChanges();
      Catalog asItWas = Catalog.fromSnapshot(new JsonObject(c.snapshot().encode()));
      Catalog.Frozen view = c.freeze();
      c.commit("f3", 2, v(c.reserveVersion("f3"), 1, 4));
      c.commit("new.txt", 2, v(c.reserveVersion("new.txt"), 1, 2));
      c.addHolder("f4", 1, 3);
      c.removeHolder("f5", 1, 1);
      c.setReplicas("f6", 3);
      c.removeVersion("f7", 1);
      c.reserveVersion("f8");
      c.removeVersion("g", 4); // its range grows in the catalog, not in the view
      store.compact(view);
      assertThat(c.snapshot()).isNotEqualTo(asItWas.snapshot());
      assertThat(Catalog.fromSnapshot(new JsonObject(Files.readString(dir.resolve(CatalogStore.SNAPSHOT))))
          .snapshot()).isEqualTo(asItWas.snapshot());
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(store.generation()).isEqualTo(1);
      assertThat(back.get("new.txt")).isNull();
      assertThat(back.get("f4").latest().servers()).containsExactly(1, 2);
      assertThat(back.buried("f2", 1)).isTrue();
      assertThat(back.buried("f7", 1)).isFalse();
      assertThat(back.reserveVersion("f8")).isEqualTo(2);
      assertThat(back.buried("g", 1)).isTrue();
      assertThat(back.buried("g", 3)).isTrue();
      assertThat(back.buried("g", 4)).isFalse();
      assertThat(back.get("g").versions()).extracting(Catalog.Version::version).containsExactly(4L, 5L);
    }
  }

  @Test
  void aViewTakenInStepsWhileTheCatalogChangesComesBackWholeWithTheJournalAfterIt() throws Exception {
    // The manager takes a snapshot's view a few files a step, and backups, deletes and
    // heals go on between steps, before and behind where the view has got to. Each file's
    // record may then be from before or after a change, but the snapshot with the journal
    // that follows it (the changes made since the view began) is the catalog as it is.
    java.util.Random random = new java.util.Random(7);
    Catalog expected;
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      for (int i = 0; i < 60; i++) {
        c.commit("f" + i, 2, v(c.reserveVersion("f" + i), 1, 2));
        if (i % 3 == 0) {
          c.removeVersion("f" + i, 1);
          c.commit("f" + i, 2, v(c.reserveVersion("f" + i), 1, 2));
        }
      }
      c.drainChanges();
      Catalog.Freezer freezer = c.freezer();
      int steps = 0;
      boolean done = false;
      while (!done) {
        done = freezer.step(7);
        steps++;
        for (int k = 0; k < 4; k++) {
          String n = "f" + random.nextInt(70); // (some names not in the catalog yet)
          switch (random.nextInt(6)) {
            case 0 -> c.commit(n, 2, v(c.reserveVersion(n), 1, 3));
            case 1 -> {
              if (c.get(n) != null) {
                c.removeVersion(n, c.get(n).latest().version());
              }
            }
            case 2 -> c.removeHolder(n, c.get(n) == null ? 1 : c.get(n).latest().version(), 1);
            case 3 -> c.addHolder(n, c.get(n) == null ? 1 : c.get(n).latest().version(), 4);
            case 4 -> c.setReplicas(n, 1 + random.nextInt(3));
            default -> c.reserveVersion(n);
          }
        }
      }
      assertThat(steps).as("60 files and the counters, 7 a step").isGreaterThan(60 / 7 + 1);
      store.compact(freezer.frozen());
      store.append(CatalogStore.lines(c.drainChanges()));
      expected = c;
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(store.generation()).isEqualTo(1);
      assertThat(back.snapshot()).isEqualTo(expected.snapshot());
      assertThat(back.bytesUnder("")).isEqualTo(expected.bytesUnder("")).isPositive();
    }
  }

  @Test
  void aSnapshotComesBackWholeAndADamagedOneIsNamed() throws Exception {
    Catalog expected;
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog c = store.open();
      c.commit("a.txt", 2, v(c.reserveVersion("a.txt"), 1, 2));
      c.commit("a.txt", 2, v(c.reserveVersion("a.txt"), 2, 3));
      c.commit("dir/b.bin", 3, v(c.reserveVersion("dir/b.bin"), 1, 2, 3));
      c.removeVersion("a.txt", 1);
      c.reserveVersion("never.txt");
      c.drainChanges();
      store.compact(c.freeze());
      expected = c;
    }
    try (CatalogStore store = new CatalogStore(dir)) {
      Catalog back = store.open();
      assertThat(back.snapshot()).isEqualTo(expected.snapshot());
      assertThat(back.drainChanges()).as("loading is not a change").isEmpty();
      assertThat(back.buried("a.txt", 1)).isTrue();
      assertThat(back.reserveVersion("never.txt")).isEqualTo(2);
    }
    Path snapshot = dir.resolve(CatalogStore.SNAPSHOT);
    String text = Files.readString(snapshot);
    Files.writeString(snapshot, text.substring(0, text.length() / 2));
    try (CatalogStore store = new CatalogStore(dir)) {
      org.assertj.core.api.Assertions.assertThatThrownBy(store::open).isInstanceOf(java.io.IOException.class)
          .hasMessageContaining(CatalogStore.SNAPSHOT);
    }
  }
}
