package fleet

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

func TestPlaceOnePerTenant(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{Name: "prod", NamePattern: "tenant-%04d", NoSchema: true})
	seen := map[string]string{}
	for i := range 5 {
		tenant := fmt.Sprintf("did:plc:t%d", i)
		rt, err := tf.Place(ctx, tenant)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), rt.Epoch)
		for other, db := range seen {
			assert.NotEqual(t, db, rt.Database, "%s shares a database with %s", tenant, other)
		}
		seen[tenant] = rt.Database
		again, err := tf.Place(ctx, tenant)
		require.NoError(t, err)
		assert.Equal(t, rt, again, "placing again changes nothing")
	}
	dbs, err := tf.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, 5)
	for i, d := range dbs {
		assert.Equal(t, fmt.Sprintf("tenant-%04d", i+1), d.Name)
		assert.Equal(t, int64(1), d.Tenants)
	}
	// Another client with only the operator's public key routes the same way.
	ro, err := New(tf.Directory(), Options{Name: "prod", OperatorKey: tf.operator.VerifyingKey()})
	require.NoError(t, err)
	for tenant, db := range seen {
		rt, err := ro.Route(ctx, tenant)
		require.NoError(t, err)
		assert.Equal(t, db, rt.Database)
	}
	_, err = ro.Place(ctx, "did:plc:new")
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = ro.Route(ctx, "did:plc:nobody")
	assert.ErrorIs(t, err, ErrUnknownTenant)
}

func TestPlacePacked(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{NoSchema: true, Placement: Placement{MaxTenants: 3}})
	count := map[string]int{}
	for i := range 7 {
		rt, err := tf.Place(ctx, fmt.Sprintf("did:plc:t%d", i))
		require.NoError(t, err)
		count[rt.Database]++
	}
	assert.Len(t, count, 3, "7 tenants, 3 per database")

	// By size: a database measured at its threshold takes no one new.
	tf2 := newTestFleet(t, Options{Placement: Packed(1)}) // every database with a schema is over 1 byte
	a, err := tf2.Place(ctx, "did:plc:a")
	require.NoError(t, err)
	b, err := tf2.Place(ctx, "did:plc:b")
	require.NoError(t, err)
	assert.Equal(t, a.Database, b.Database, "not measured yet: packed together")
	require.NoError(t, tf2.MeasureSizes(ctx))
	c, err := tf2.Place(ctx, "did:plc:c")
	require.NoError(t, err)
	assert.NotEqual(t, a.Database, c.Database, "measured full: a new database")
}

func TestCreateWithLocationAndJurisdiction(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{NoSchema: true, LocationHint: "weur", Jurisdiction: "eu"})
	var bodies []string
	f, err := New(mustClient(t, tf, func(body string) { bodies = append(bodies, body) }), Options{Operator: tf.operator, NoSchema: true, LocationHint: "weur", Jurisdiction: "eu"})
	require.NoError(t, err)
	db, err := f.CreateDatabase(ctx)
	require.NoError(t, err)
	assert.Equal(t, "weur", db.LocationHint)
	assert.Equal(t, "eu", db.Jurisdiction)
	assert.Contains(t, bodies, `{"jurisdiction":"eu","name":"default-00001","primary_location_hint":"weur"}`)
	_, err = New(tf.Directory(), Options{Operator: tf.operator, Jurisdiction: "mars"})
	var ae *d1.ArgError
	assert.ErrorAs(t, err, &ae)
}

func TestHostileDirectory(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{Name: "prod", NoSchema: true})
	a, err := tf.Place(ctx, "did:plc:alice")
	require.NoError(t, err)
	b, err := tf.Place(ctx, "did:plc:bob")
	require.NoError(t, err)
	dir := tf.Directory().DatabaseID()
	fresh := func() *Fleet {
		f, err := New(tf.Directory(), Options{Name: "prod", OperatorKey: tf.operator.VerifyingKey()})
		require.NoError(t, err)
		return f
	}

	// Re-routing alice to bob's database without a signature is refused.
	tf.sql(t, dir, "UPDATE fleet_tenants SET database_id = ? WHERE tenant = 'did:plc:alice'", b.Database)
	_, err = fresh().Route(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, ErrUntrusted)

	// Bob's valid entry copied to alice's row: the signature names bob.
	tf.sql(t, dir, "UPDATE fleet_tenants SET signature = (SELECT signature FROM fleet_tenants WHERE tenant = 'did:plc:bob') WHERE tenant = 'did:plc:alice'")
	_, err = fresh().Route(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, ErrUntrusted)

	// An entry signed by another key, or for another fleet, is refused.
	mallory, err := crypto.GenerateAgent("did:web:mallory.example", crypto.GenerateOptions{})
	require.NoError(t, err)
	sig, err := mallory.SignDirectoryEntry(crypto.DirectoryEntry{Fleet: "prod", Tenant: "did:plc:alice", Database: b.Database, Epoch: 1})
	require.NoError(t, err)
	tf.sql(t, dir, "UPDATE fleet_tenants SET signature = ? WHERE tenant = 'did:plc:alice'", sig)
	_, err = fresh().Route(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, ErrUntrusted)
	sig, err = tf.operator.SignDirectoryEntry(crypto.DirectoryEntry{Fleet: "staging", Tenant: "did:plc:alice", Database: b.Database, Epoch: 1})
	require.NoError(t, err)
	tf.sql(t, dir, "UPDATE fleet_tenants SET signature = ? WHERE tenant = 'did:plc:alice'", sig)
	_, err = fresh().Route(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, ErrUntrusted)

	// Put back: a client that saw epoch 2 refuses the replayed epoch 1.
	sig, err = tf.operator.SignDirectoryEntry(crypto.DirectoryEntry{Fleet: "prod", Tenant: "did:plc:alice", Database: a.Database, Epoch: 1})
	require.NoError(t, err)
	tf.sql(t, dir, "UPDATE fleet_tenants SET database_id = ?, signature = ? WHERE tenant = 'did:plc:alice'", a.Database, sig)
	f := fresh()
	_, err = f.Route(ctx, "did:plc:alice")
	require.NoError(t, err)
	sig2, err := tf.operator.SignDirectoryEntry(crypto.DirectoryEntry{Fleet: "prod", Tenant: "did:plc:alice", Database: b.Database, Epoch: 2})
	require.NoError(t, err)
	tf.sql(t, dir, "UPDATE fleet_tenants SET database_id = ?, epoch = 2, signature = ? WHERE tenant = 'did:plc:alice'", b.Database, sig2)
	rt, err := f.Lookup(ctx, "did:plc:alice")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), rt.Epoch)
	tf.sql(t, dir, "UPDATE fleet_tenants SET database_id = ?, epoch = 1, signature = ? WHERE tenant = 'did:plc:alice'", a.Database, sig)
	_, err = f.Lookup(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, ErrRollback)
}
