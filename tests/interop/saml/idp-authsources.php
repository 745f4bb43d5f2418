<?php
// The IdP's users: one, with a password (exampleauth:UserPass).
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:wonderland' => [
            'uid' => ['alice'],
            'mail' => ['alice@saml.test'],
            'eduPersonPrincipalName' => ['alice@saml.test'],
        ],
    ],
];
