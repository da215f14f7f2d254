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
}
