using System.Reflection;
using Xunit;

namespace Holdfast.Architecture.Tests;

/// <summary>
/// The dependency arrows of docs/architecture.md ("Dependency direction"), read from the compiled assemblies: every Holdfast assembly may
/// reference only the Holdfast assemblies listed for it, nothing references Holdfast.Server (only the <c>holdfast</c>
/// executable may, and it is deliberately not loaded here), and the core libraries stay free of ASP.NET Core.
/// </summary>
public sealed class DependencyRulesTests
{
    /// <summary>Each Holdfast library and the Holdfast assemblies it may reference.</summary>
    private static readonly Dictionary<string, string[]> AllowedReferences = new(StringComparer.Ordinal)
    {
        ["Holdfast.Resources"] = [],
        ["Holdfast.State"] = ["Holdfast.Resources"],
        ["Holdfast.State.Sqlite"] = ["Holdfast.State", "Holdfast.Resources"],
        ["Holdfast.State.Etcd"] = ["Holdfast.State", "Holdfast.Resources"],
        ["Holdfast.Reconciliation"] = [],
        ["Holdfast.Audit"] = [],
        ["Holdfast.Capacity"] = [],
        ["Holdfast.Fabric"] = ["Holdfast.Capacity"],
        ["Holdfast.Agent"] = ["Holdfast.Fabric", "Holdfast.Capacity"],
        ["Holdfast.Identity"] = ["Holdfast.Resources"],
        ["Holdfast.Providers"] = ["Holdfast.Resources", "Holdfast.State", "Holdfast.Reconciliation"],
        ["Holdfast.Server"] = ["Holdfast.Resources", "Holdfast.State", "Holdfast.Reconciliation", "Holdfast.Identity", "Holdfast.Providers", "Holdfast.Audit", "Holdfast.Capacity", "Holdfast.Fabric", "Holdfast.Agent"],
    };

    private static readonly string[] CoreLibraries =
        ["Holdfast.Resources", "Holdfast.State", "Holdfast.Reconciliation", "Holdfast.Identity", "Holdfast.Providers", "Holdfast.Audit", "Holdfast.Capacity", "Holdfast.Fabric", "Holdfast.Agent"];

    [Fact]
    public void GetReferencedAssemblies_EveryHoldfastLibrary_FollowsTheDependencyArrows()
    {
        var violations = new List<string>();
        foreach (var (name, allowed) in AllowedReferences)
        {
            foreach (var reference in HoldfastReferencesOf(name))
            {
                if (!allowed.Contains(reference, StringComparer.Ordinal))
                {
                    violations.Add($"{name} -> {reference}");
                }
            }
        }

        Assert.True(violations.Count == 0, "Dependency arrows that are not allowed: " + string.Join(", ", violations));
    }

    [Fact]
    public void GetReferencedAssemblies_AnyHoldfastLibrary_DoesNotReferenceServer()
    {
        var referencing = AllowedReferences.Keys.Where(name => HoldfastReferencesOf(name).Contains("Holdfast.Server", StringComparer.Ordinal)).ToList();

        Assert.Empty(referencing);
    }

    [Fact]
    public void GetReferencedAssemblies_Server_DoesNotPickAStoreBackend()
    {
        Assert.DoesNotContain("Holdfast.State.Sqlite", HoldfastReferencesOf("Holdfast.Server"));
        Assert.DoesNotContain("Holdfast.State.Etcd", HoldfastReferencesOf("Holdfast.Server"));
    }

    [Fact]
    public void GetReferencedAssemblies_CoreLibraries_DoNotReferenceAspNetCore()
    {
        var violations = CoreLibraries
            .SelectMany(name => ReferencesOf(name).Where(r => r.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)).Select(r => $"{name} -> {r}"))
            .ToList();

        Assert.True(violations.Count == 0, "Core libraries must not depend on ASP.NET Core: " + string.Join(", ", violations));
    }

    [Fact]
    public void GetReferencedAssemblies_Resources_ReferencesOnlyTheBaseClassLibrary()
    {
        var nonBcl = ReferencesOf("Holdfast.Resources")
            .Where(r => r is not ("System" or "mscorlib" or "netstandard") && !r.StartsWith("System.", StringComparison.Ordinal))
            .ToList();

        Assert.Empty(nonBcl);
    }

    [Theory]
    [InlineData("Holdfast.Audit")]
    [InlineData("Holdfast.Capacity")]
    public void GetReferencedAssemblies_PureLibraries_ReferenceOnlyTheBaseClassLibrary(string assemblyName)
    {
        var nonBcl = ReferencesOf(assemblyName)
            .Where(r => r is not ("System" or "mscorlib" or "netstandard") && !r.StartsWith("System.", StringComparison.Ordinal))
            .ToList();

        Assert.Empty(nonBcl);
    }

    [Fact]
    public void AllowedReferences_EveryHoldfastLibraryInOutput_HasARule()
    {
        // A new library must get a row above, or it would escape the rules; the test assembly itself is not one.
        var folder = AppContext.BaseDirectory;
        var holdfastAssemblies = Directory.EnumerateFiles(folder, "Holdfast.*.dll")
            .Select(Path.GetFileNameWithoutExtension)
            .Where(name => name is not null && !name.EndsWith(".Tests", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(AllowedReferences.Keys.Order(StringComparer.Ordinal), holdfastAssemblies);
    }

    private static string[] ReferencesOf(string assemblyName) =>
        Assembly.Load(new AssemblyName(assemblyName)).GetReferencedAssemblies().Select(r => r.Name!).ToArray();

    private static string[] HoldfastReferencesOf(string assemblyName) =>
        ReferencesOf(assemblyName).Where(r => r.StartsWith("Holdfast.", StringComparison.Ordinal)).ToArray();
}
