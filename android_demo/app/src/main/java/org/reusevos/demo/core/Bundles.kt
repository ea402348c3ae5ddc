package org.reusevos.demo.core

import java.io.File

/** A `reusevos-export --target executorch` bundle folder, checked before the native core opens it. */
data class BundleInfo(val dir: File, val target: String, val precision: String?) {
    val name: String get() = dir.name
}

object Bundles {
    const val TARGET = "executorch"

    /**
     * The bundle in `dir`, or IllegalArgumentException naming it: no folder, no manifest.json, or a bundle
     * of another target (the native core verifies every checksum when it opens the bundle).
     */
    fun check(dir: File): BundleInfo {
        if (!dir.isDirectory) {
            throw IllegalArgumentException("bundle $dir: no such folder (push one: adb push BUNDLE_DIR ${dir.parent ?: "/data/local/tmp/reusevos/bundles"}/)")
        }
        val manifest = File(dir, "manifest.json")
        if (!manifest.isFile) {
            throw IllegalArgumentException("bundle $dir: no manifest.json; expected a folder written by reusevos-export")
        }
        val text = manifest.readText()
        val target = Json.stringMember(text, "target")
            ?: throw IllegalArgumentException("bundle $dir: manifest.json has no \"target\"")
        if (target != TARGET) {
            throw IllegalArgumentException(
                "bundle $dir: target \"$target\"; this app runs \"$TARGET\" bundles (reusevos-export --target $TARGET)")
        }
        return BundleInfo(dir, target, Json.stringMember(text, "precision"))
    }

    /** Every sub-folder of `roots` holding a manifest.json, valid ones first then by name; problems listed apart. */
    fun find(roots: List<File>): Pair<List<BundleInfo>, List<String>> {
        val found = mutableListOf<BundleInfo>()
        val problems = mutableListOf<String>()
        for (root in roots) {
            val dirs = root.listFiles { f -> f.isDirectory && File(f, "manifest.json").isFile } ?: continue
            for (dir in dirs.sortedBy { it.name }) {
                try {
                    found.add(check(dir))
                } catch (e: IllegalArgumentException) {
                    problems.add(e.message ?: dir.toString())
                }
            }
        }
        return found to problems
    }
}
