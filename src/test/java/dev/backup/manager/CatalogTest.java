package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

class CatalogTest {
  @Test
  void versionsAreNeverHandedOutTwice() {
    Catalog c = new Catalog();
    assertThat(c.reserveVersion("a")).isEqualTo(1);
    assertThat(c.reserveVersion("a")).isEqualTo(2);
    assertThat(c.reserveVersion("b")).isEqualTo(1);
    c.commit("a", 2, new Catalog.Version(2, 10, "aa", 1, List.of(1, 2)));
    assertThat(c.reserveVersion("a")).isEqualTo(3);
    assertThat(c.get("a").latest().version()).isEqualTo(2);
  }

  /** A large catalog is listed a page at a time, each under its byte budget, all of it once, in order. */
  @Test
  void pagesCoverTheCatalogOnceEachUnderItsBudget() {
    Catalog c = new Catalog();
    String longPart = "p".repeat(180);
    String wide = "页".repeat(60); // 180 bytes in UTF-8
    for (int i = 0; i < 3000; i++) {
      String user = i % 3 == 0 ? "alice/" : "bob/";
      c.commit(user + longPart + "/" + wide + "-" + i, 2,
          new Catalog.Version(1, i, "ab".repeat(32), 5, List.of(1, 3)));
    }
    for (String prefix : List.of("", "alice/")) {
      List<Object> all = c.toJson().getJsonArray("files").stream()
          .filter(o -> ((JsonObject) o).getString("name").startsWith(prefix)).toList();
      List<Object> paged = new java.util.ArrayList<>();
      String after = null;
      int pages = 0;
      do {
        JsonObject page = c.page(prefix, after, 64 * 1024);
        pages++;
        assertThat(page.getJsonArray("files")).isNotEmpty();
        assertThat(page.getJsonArray("files").toBuffer().length()).isLessThanOrEqualTo(64 * 1024 + 2);
        page.getJsonArray("files").forEach(paged::add);
        after = page.getString("next");
      } while (after != null);
      assertThat(pages).isGreaterThan(5);
      assertThat(paged).isEqualTo(all);
    }
    // One entry larger than the budget still makes a page.
    assertThat(c.page("", null, 10).getJsonArray("files")).hasSize(1);
  }

  @Test
  void jsonHasTheShapeScriptsDependOn() {
    Catalog c = new Catalog();
    c.commit("x/a.txt", 2, new Catalog.Version(1, 12, "ab", 5, List.of(1, 3)));
    JsonObject j = c.toJson();
    JsonObject f = j.getJsonArray("files").getJsonObject(0);
    assertThat(f.getString("name")).isEqualTo("x/a.txt");
    assertThat(f.getInteger("replicas")).isEqualTo(2);
    JsonObject v = f.getJsonArray("versions").getJsonObject(0);
    assertThat(v.getLong("version")).isEqualTo(1);
    assertThat(v.getLong("size")).isEqualTo(12);
    assertThat(v.getString("sha256")).isEqualTo("ab");
    assertThat(v.getJsonArray("replicas").getList()).containsExactly(1, 3);
  }

  @Test
  void snapshotRoundTripKeepsVersionsAndCounters() {
    Catalog c = new Catalog();
    c.reserveVersion("a");
    c.reserveVersion("a");
    c.commit("a", 3, new Catalog.Version(1, 10, "aa", 1, List.of(1, 2, 3)));
    Catalog back = Catalog.fromSnapshot(new JsonObject(c.snapshot().encode()));
    assertThat(back.toJson()).isEqualTo(c.toJson());
    assertThat(back.reserveVersion("a")).isEqualTo(3);
  }

  @Test
  void namesUnderAFolderAndHoldersAndRetention() {
    Catalog c = new Catalog();
    c.commit("docs/a.txt", 2, new Catalog.Version(1, 1, "a", 1, List.of(1, 2)));
    c.commit("docs/sub/b.txt", 2, new Catalog.Version(1, 1, "b", 1, List.of(1, 2)));
    c.commit("docs.txt", 2, new Catalog.Version(1, 1, "c", 1, List.of(1, 2)));
    assertThat(c.namesUnder("docs")).containsExactly("docs/a.txt", "docs/sub/b.txt");
    assertThat(c.namesUnder("docs.txt")).containsExactly("docs.txt");
    assertThat(c.namesUnder("doc")).isEmpty();

    c.addHolder("docs.txt", 1, 3);
    c.removeHolder("docs.txt", 1, 1);
    assertThat(c.version("docs.txt", 1).servers()).containsExactly(2, 3);

    for (long v = 2; v <= 5; v++) {
      c.commit("docs.txt", 2, new Catalog.Version(v, 1, "c" + v, v, List.of(1, 2)));
    }
    assertThat(c.versionsBeyond("docs.txt", 3)).extracting(Catalog.Version::version).containsExactly(1L, 2L);
    c.removeVersion("docs.txt", 1);
    c.removeVersion("docs.txt", 2);
    assertThat(c.get("docs.txt").versions()).hasSize(3);
    for (long v = 3; v <= 5; v++) {
      c.removeVersion("docs.txt", v);
    }
    assertThat(c.get("docs.txt")).isNull();
    assertThat(c.reserveVersion("docs.txt")).isEqualTo(6);
  }

  @Test
  void namesUnderAPathFromAGivenNameAreThoseOfTheWholeListAfterIt() {
    Catalog c = new Catalog();
    // Names that sort between a folder's own name and its contents ("a.txt", "a-b" sort
    // before "a/"), a file named like the folder, and neighbours on both sides.
    List<String> names = List.of("a", "a-b", "a.txt", "a/x", "a/b/c", "a/b/d", "a/z", "a0", "b/a", "", "0");
    for (String n : names) {
      if (!n.isEmpty()) {
        c.commit(n, 2, new Catalog.Version(1, 1, "s", 1, List.of(1, 2)));
      }
    }
    for (String path : List.of("", "a", "a/b", "a.txt", "b", "zz")) {
      List<String> all = c.namesUnder(path);
      assertThat(c.namesUnder(path, null).toList()).isEqualTo(all);
      for (String after : names) {
        assertThat(c.namesUnder(path, after).toList()).as("under '%s' after '%s'", path, after)
            .isEqualTo(all.stream().filter(n -> n.compareTo(after) > 0).toList());
      }
    }
    assertThat(c.namesUnder("a")).containsExactly("a", "a/b/c", "a/b/d", "a/x", "a/z");
  }

  /** What {@link Catalog#bytesUnder} must equal: every kept version under the prefix, summed. */
  private static long walked(Catalog c, String prefix) {
    long[] sum = {0};
    c.walk(null, Integer.MAX_VALUE, e -> {
      if (e.name().startsWith(prefix)) {
        for (Catalog.Version v : e.versions()) {
          sum[0] += v.size();
        }
      }
    });
    return sum[0];
  }

  @Test
  void aUsersBytesAreKeptCountedThroughEveryKindOfChange() {
    java.util.Random rnd = new java.util.Random(7);
    Catalog c = new Catalog();
    Catalog journal = new Catalog();
    List<String> names = List.of("alice/a", "alice/d/b", "bob/a", "alice", "top.txt", "alicex/c");
    for (int step = 0; step < 2000; step++) {
      String n = names.get(rnd.nextInt(names.size()));
      long version = 1 + rnd.nextInt(4);
      switch (rnd.nextInt(5)) {
        case 0, 1 -> c.commit(n, 2, new Catalog.Version(version, rnd.nextInt(1000), "s", 0, List.of(1, 2)));
        case 2 -> c.removeVersion(n, version);
        case 3 -> c.addHolder(n, version, 3);
        default -> c.removeHolder(n, version, 1);
      }
      // The journal's records, applied elsewhere, give the same counts.
      c.drainChanges().forEach(journal::apply);
      for (String prefix : List.of("alice/", "bob/", "alicex/")) {
        assertThat(c.bytesUnder(prefix)).as(prefix + " at step " + step).isEqualTo(walked(c, prefix));
        assertThat(journal.bytesUnder(prefix)).as(prefix + " replayed at step " + step).isEqualTo(walked(c, prefix));
      }
    }
    Catalog loaded = Catalog.fromSnapshot(c.snapshot());
    assertThat(loaded.bytesUnder("alice/")).isEqualTo(walked(c, "alice/")).isPositive();
  }
  /** A name's removed versions are kept as ranges: a few, however many were removed. */
  @Test
  void tombstonesOfAllTheVersionsEverRemovedTakeAFewRanges() {
    Catalog c = new Catalog();
    for (int i = 1; i <= 5000; i++) {
      long v = c.reserveVersion("a");
      c.commit("a", 2, new Catalog.Version(v, 1, "aa", 1, List.of(1, 2)));
      for (Catalog.Version old : c.versionsBeyond("a", 3)) {
        c.removeVersion("a", old.version());
      }
    }
    long b = c.reserveVersion("b"); // aborted
    c.bury("b", b, 7);
    JsonObject snap = c.snapshot();
    assertThat(snap.getJsonArray("tombstones")).hasSize(2);
    assertThat(snap.getJsonArray("tombstones").getJsonObject(0).getMap())
        .containsEntry("name", "a").containsEntry("from", 1L).containsEntry("to", 4997L);
    Catalog again = Catalog.fromSnapshot(snap);
    for (Catalog x : List.of(c, again)) {
      assertThat(x.buried("a", 1)).isTrue();
      assertThat(x.buried("a", 4997)).isTrue();
      assertThat(x.buried("a", 4998)).isFalse();
      assertThat(x.buried("a", 5001)).isFalse();
      assertThat(x.buried("b", 1)).isTrue();
      assertThat(x.buried("c", 1)).isFalse();
    }
    // A snapshot written before ranges (one tombstone a version) loads as it did.
    Catalog old = Catalog.fromSnapshot(new JsonObject().put("tombstones", new io.vertx.core.json.JsonArray()
        .add(new JsonObject().put("name", "x").put("version", 3).put("at", 5))
        .add(new JsonObject().put("name", "x").put("version", 4).put("at", 6))));
    assertThat(old.buried("x", 3)).isTrue();
    assertThat(old.buried("x", 4)).isTrue();
    assertThat(old.buried("x", 5)).isFalse();
    assertThat(old.snapshot().getJsonArray("tombstones")).hasSize(1);
  }
}
