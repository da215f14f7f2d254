package dev.backup.jmh;

import dev.backup.manager.Catalog;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the manager's event loop spends on a large catalog: a snapshot's view taken in one
 * go and one step of it ({@link Catalog.Freezer}), and one walk through every version (what
 * a heal's look through the catalog costs). Milliseconds an operation.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
public class CatalogBench {
  @Param({"1000000"})
  int files;
  private Catalog catalog;

  @Setup
  public void setUp() {
    catalog = new Catalog();
    for (int i = 0; i < files; i++) {
      String name = "dir" + (i % 1000) + "/file-" + i + ".dat";
      catalog.commit(name, 2, new Catalog.Version(catalog.reserveVersion(name), 4096,
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 1_700_000_000_000L + i,
          List.of(1 + i % 4, 1 + (i + 1) % 4)));
      if (i % 4 == 0) {
        catalog.bury(name, 99, 1L);
      }
    }
    catalog.drainChanges();
  }

  @Benchmark
  public Catalog.Frozen freezeWhole() {
    return catalog.freeze();
  }

  /** The first step of a view, as the manager takes it (20,000 files). */
  @Benchmark
  public Catalog.Freezer freezeStep() {
    Catalog.Freezer f = catalog.freezer();
    f.step(20_000);
    return f;
  }

  /** Every version of every file, as a heal's look goes through them (here in one go). */
  @Benchmark
  public long walk() {
    long[] n = {0};
    catalog.walk(null, Integer.MAX_VALUE, e -> {
      for (Catalog.Version v : e.versions()) {
        n[0] += v.servers().size();
      }
    });
    return n[0];
  }
}
