package dev.backup.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamesTest {
  @ParameterizedTest
  @ValueSource(strings = {"a.txt", "photos/2024/a.jpg", "with space/é à.txt", ".hidden", "a..b"})
  void acceptsOrdinaryNames(String name) {
    assertThat(Names.validate(name)).isEqualTo(name);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "../x", "a/../../x", "/etc/passwd", "a//b", "a/", "./a", "a\u0000b", "a\nb",
      "a\\b", ".bk-tmp/x"})
  void refusesNamesThatLeaveTheRootOrAreUnsafe(String name) {
    assertThatThrownBy(() -> Names.validate(name))
        .isInstanceOfSatisfying(BackupException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE));
  }

  @org.junit.jupiter.api.Test
  void refusesTooLongNames() {
    assertThatThrownBy(() -> Names.validate("a".repeat(5000))).hasMessageContaining("too long");
    assertThatThrownBy(() -> Names.validate("a".repeat(201))).hasMessageContaining("longer than");
  }
}
